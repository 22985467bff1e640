"""What a run returns and what ``--report`` writes: one result per task attempted."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakeroutine.types import jsonable

SUCCEEDED, FAILED, SKIPPED, CANCELLED, PLANNED, DEFERRED, REFUSED = (
    "succeeded",
    "failed",
    "skipped",
    "cancelled",
    "planned",
    "deferred",
    "refused",  # a run stopped before its first task (a preflight check): nothing ran
)


@dataclass
class TaskResult:
    """How one task went: ``status`` is succeeded, failed, skipped, cancelled, planned
    (a dry run) or deferred (its wait was handed to a scheduler: ``output`` says which,
    see :mod:`lakeroutine.waiting`). ``step`` is the step id (:mod:`lakeroutine.steps`)."""

    executor: str
    task: str
    status: str
    duration_s: float = 0.0
    output: Any = None
    error: str | None = None
    attempts: int = 0
    step: str = ""
    refused: bool = False  # failed on args its target cannot take (TaskRefused): exit 2

    def to_dict(self) -> dict[str, Any]:
        extra = {"refused": True} if self.refused else {}
        return {
            "step": self.step or f"{self.executor}.{self.task}",
            "executor": self.executor,
            "task": self.task,
            "status": self.status,
            "duration_s": round(self.duration_s, 6),
            "attempts": self.attempts,
            "output": jsonable(self.output),
            "error": self.error,
            **extra,
        }


@dataclass
class RunResult:
    """How a routine run went, task by task."""

    routine_name: str
    run_id: str
    status: str
    started_at: str
    duration_s: float = 0.0
    tasks: list[TaskResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in (SUCCEEDED, PLANNED)

    @property
    def refused(self) -> bool:
        """Whether a task refused its args (a table-dependent check): the CLI exits 2."""
        return any(t.refused for t in self.tasks)

    @property
    def failed_tasks(self) -> list[TaskResult]:
        return [t for t in self.tasks if t.status in (FAILED, CANCELLED)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "routine_name": self.routine_name,
            "run_id": self.run_id,
            "status": self.status,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 6),
            "tasks": [t.to_dict() for t in self.tasks],
        }

    def summary(self) -> str:
        """One line: ``6 tasks: 3 succeeded, 1 failed, 2 skipped in 3.2 s``."""
        counts: dict[str, int] = {}
        for item in self.tasks:
            counts[item.status] = counts.get(item.status, 0) + 1
        order = (SUCCEEDED, FAILED, CANCELLED, SKIPPED, PLANNED)
        parts = ", ".join(f"{counts[s]} {s}" for s in order if counts.get(s))
        noun = "task" if len(self.tasks) == 1 else "tasks"
        return f"{len(self.tasks)} {noun}: {parts or 'none run'} in {self.duration_s:.1f} s"

    def write_json(self, path: Path) -> None:
        """Write the report atomically (temporary file, then rename), secrets masked."""
        from lakeroutine.redact import process_redactor

        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.tmp")
        data = process_redactor().walk(self.to_dict())
        temp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        temp.replace(path)


def check_writable(path: Path, option: str = "--report") -> None:
    """Raise RoutineError unless a report can be written at ``path``: its folder is created
    and a temporary file written and removed there, before a run, so that a bad
    ``--report`` stops it before anything moves (a permission check alone can be wrong).
    ``option`` names the setting the path came from, as the user wrote it."""
    import os
    import tempfile

    from lakeroutine.errors import RoutineError

    if path.is_dir():
        raise RoutineError(f"{option} {path}: is a folder, not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise RoutineError(f"{option} {path}: cannot write a file there ({why})") from None
