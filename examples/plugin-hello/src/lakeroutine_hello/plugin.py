"""The hooks of lakeroutine-hello: the module its ``lakeroutine`` entry point names.

Registration hooks import what they register lazily, so ``lakeroutine --help`` and
``lakeroutine validate`` stay fast however heavy an executor's dependencies are.
Lifecycle hooks observe runs; here they log each task and write a run summary.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeroutine import hookimpl

if TYPE_CHECKING:
    from lakeroutine.context import TaskContext
    from lakeroutine.results import RunResult, TaskResult
    from lakeroutine.routine import Routine

log = logging.getLogger("lakeroutine.hello")  # under "lakeroutine": the CLI shows it

SUMMARY_ENV = "LAKEROUTINE_HELLO_SUMMARY"
"""Set it to a file path and every run writes a JSON summary there."""


@hookimpl
def register_executors(register: Callable[[type], None]) -> None:
    from lakeroutine_hello.executor import HelloExecutor

    register(HelloExecutor)


@hookimpl
def register_tasks(register: Callable[..., None]) -> None:
    from lakeroutine_hello.tasks import CountArgs, count_landing

    register("StagingExecutor", "count_landing", count_landing, CountArgs)


@hookimpl
def task_finished(routine: Routine, ctx: TaskContext, result: TaskResult) -> None:
    log.info("hello: %s.%s took %.3f s", ctx.executor, ctx.task, result.duration_s)


@hookimpl
def routine_finished(routine: Routine, result: RunResult) -> None:
    target = os.environ.get(SUMMARY_ENV)
    if not target:
        return
    summary: dict[str, Any] = {
        "routine": routine.name,
        "run_id": result.run_id,
        "status": result.status,
        "tasks": [f"{t.executor}.{t.task}: {t.status}" for t in result.tasks],
    }
    Path(target).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
