"""HelloExecutor: writes greeting cards and asks questions of a mailbox folder.

Small on purpose, but built like the AWS executors: validated params and args, a preflight
check, and a task that submits work, saves its id before waiting, and re-attaches on rerun.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

from lakeroutine.context import TaskContext
from lakeroutine.errors import RoutineError, TaskError
from lakeroutine.executor import Executor, Params, task
from lakeroutine.types import LocalPath
from pydantic import Field, field_validator

SAFE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")


class HelloParams(Params):
    """Built once per routine block: how to greet and which folder to work in."""

    greeting: str = Field("Hello", min_length=1, max_length=40, description="Opening word")
    folder: LocalPath = Field(description="Existing folder for cards and questions")


class GreetArgs(Params):
    """Who to greet. The name becomes a file name, so it is checked strictly."""

    name: str = Field(description="Letters, digits, '-' and '_', at most 40")

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not SAFE_NAME.fullmatch(value):
            raise ValueError(
                "must start with a letter and hold only letters, digits, '-' and '_' "
                "(at most 40 characters)"
            )
        return value


class AskArgs(Params):
    """A question left in the folder, and how long to wait for its answer."""

    question: str = Field(min_length=1, description="The question")
    max_wait_s: float = Field(60.0, gt=0, description="Give up after this many seconds")
    poll_interval_s: float = Field(1.0, gt=0, description="Seconds between looks")


class HelloExecutor(Executor):
    """Greets people on cards and waits for answers, in one local folder."""

    name = "HelloExecutor"
    Params = HelloParams
    params: HelloParams

    def preflight(self, tasks: list[str]) -> None:
        """Refuse to start when the folder is missing: found before any task runs."""
        if not self.params.folder.is_dir():
            raise RoutineError(f"folder {self.params.folder} does not exist", field="params.folder")

    @task
    def greet(self, args: GreetArgs) -> dict[str, Any]:
        """Write ``<name>.txt`` holding the greeting, atomically."""
        card = self.params.folder / f"{args.name}.txt"
        text = f"{self.params.greeting}, {args.name}!\n"
        _write_atomic(card, text)
        return {"card": str(card), "text": text.strip()}

    @task
    def ask(self, args: AskArgs, ctx: TaskContext) -> dict[str, Any]:
        """Leave ``<id>.question`` in the folder and wait for ``<id>.answer``.

        The id is saved in ``ctx.state`` before waiting, so a retried or rerun task waits
        for the same question instead of asking again (the pattern of every AWS executor).
        """
        request_id = ctx.state.get("request_id")
        if request_id is None:
            request_id = uuid.uuid4().hex[:12]
            ctx.state.set("request_id", request_id)  # saved BEFORE the work is submitted
        question = self.params.folder / f"{request_id}.question"
        answer = self.params.folder / f"{request_id}.answer"
        if question.exists() or answer.exists():
            ctx.logger.info("re-attached to question %s", request_id)
        else:  # asking again under the same id is harmless: like an idempotency token
            _write_atomic(question, args.question + "\n")
            ctx.logger.info("asked question %s", request_id)
        ctx.on_cancel(lambda: _write_atomic(answer.with_suffix(".cancelled"), "cancelled\n"))
        waited = 0.0
        while not answer.exists():
            if waited >= args.max_wait_s:
                raise TaskError(
                    f"no answer to question {request_id} after {args.max_wait_s:g} s; "
                    "run again to keep waiting for the same question"
                )
            ctx.sleep(args.poll_interval_s)  # raises TaskCancelled on Ctrl-C or timeout_s
            waited += args.poll_interval_s
        return {"request_id": request_id, "answer": answer.read_text(encoding="utf-8").strip()}


def _write_atomic(path: Path, text: str) -> None:
    """Write a file under a temporary name, then rename it: readers never see half of it."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)
