"""What a running task can reach: the run's ids, durable state, storages, progress, cancel.

Executors get a :class:`RunContext` when built (``self.context``) and a :class:`TaskContext`
as ``ctx`` in each task. Long waits use ``ctx.sleep`` so Ctrl-C, SIGTERM and ``timeout_s``
stop them, and register ``ctx.on_cancel`` callbacks to stop the AWS-side work they started.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lakeroutine.errors import TaskError
from lakeroutine.lineage import TaskLineage
from lakeroutine.state.base import StateStore, TaskState
from lakeroutine.state.sqlite import SqliteStateStore, state_key

if TYPE_CHECKING:
    from lakeroutine.redact import Redactor
    from lakeroutine.storage.base import Storage
    from lakeroutine.storage.registry import StorageRegistry
    from lakeroutine.waiting import Deferral

log = logging.getLogger("lakeroutine.task")


class TaskCancelled(TaskError):
    """The run was interrupted (Ctrl-C, SIGTERM) or the task ran past its timeout."""


class Progress(Protocol):
    """Progress of one long piece of work; ``total`` may be set once it is known."""

    def set_total(self, total: int | None) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def close(self) -> None: ...


class _NoProgress:
    def set_total(self, total: int | None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


ProgressFactory = Callable[[str, str], Progress]
"""Called as ``factory(description, unit)``; the CLI installs a progress bar on terminals."""


def no_progress(description: str, unit: str) -> Progress:
    return _NoProgress()


@dataclass
class RunContext:
    """One run of one routine: ids, where files resolve, durable state and storages."""

    routine_name: str
    run_id: str
    run_date: str
    base_dir: Path
    state_dir: Path
    storages: StorageRegistry
    redactor: Redactor
    progress_factory: ProgressFactory = no_progress
    cancel_event: threading.Event = field(default_factory=threading.Event)
    state_store: StateStore | None = None

    @cached_property
    def state(self) -> StateStore:
        """The routine's state store (``state_store``, else SQLite in ``state_dir``)."""
        if self.state_store is not None:
            return self.state_store
        path = self.state_dir / f"{state_key(self.routine_name)}.sqlite"
        return SqliteStateStore(path, routine=self.routine_name)

    def storage_for(self, url: str) -> Storage:
        """The storage backend for ``url`` (a local path or ``scheme://...``)."""
        return self.storages.for_url(url)


@dataclass
class TaskContext:
    """One attempt of one task of one executor block: ``executor`` is the block's instance
    name (the routine's key), ``attempt`` counts from 1, ``started_at`` is when this attempt
    began (UTC) and ``run`` the :class:`RunContext` (``run_id``, ``redactor``...). ``step`` is
    the step id (:mod:`lakeroutine.steps`); ``lineage`` is where the task declares what it
    read and wrote (:mod:`lakeroutine.lineage`)."""

    run: RunContext
    executor: str
    task: str
    attempt: int = 1
    state_key: str = ""
    deferral: Deferral | None = None  # a scheduler takes the waits over (lakeroutine.waiting)
    waits: dict[str, int] = field(default_factory=dict)  # counted by lakeroutine.waiting
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    step: str = ""
    lineage: TaskLineage = field(default_factory=TaskLineage)
    _cancel_callbacks: list[Callable[[], None]] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @cached_property
    def state(self) -> TaskState:
        """Durable key/value state of this task, kept across retries and runs until it
        succeeds. Scoped by the task's params and args, so changing them starts afresh."""
        return TaskState(self.run.state, f"{self.executor}.{self.task}:{self.state_key}")

    @cached_property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        return logging.LoggerAdapter(log, {"executor": self.executor, "task": self.task})

    @property
    def cancel_event(self) -> threading.Event:
        """Set when this attempt is cancelled (timed out or interrupted). Made on first use,
        by whichever thread comes first (most tasks never look, and an Event is not free)."""
        event = self.__dict__.get("_cancel_event")
        if event is None:
            event = self.__dict__.setdefault("_cancel_event", threading.Event())
        return event

    @property
    def cancelled(self) -> bool:
        event = self.__dict__.get("_cancel_event")
        return (event is not None and event.is_set()) or self.run.cancel_event.is_set()

    def check_cancelled(self) -> None:
        """Raise :class:`TaskCancelled` if the run was interrupted or the task timed out."""
        if self.cancelled:
            raise TaskCancelled(f"{self.executor}.{self.task} was cancelled")

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or raise :class:`TaskCancelled` as soon as the task is cancelled."""
        if self.cancel_event.wait(seconds) or self.run.cancel_event.is_set():
            self.check_cancelled()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` if this task is cancelled (stop a query, a job run...)."""
        self._cancel_callbacks.append(callback)

    def run_cancel_callbacks(self) -> None:
        for callback in reversed(self._cancel_callbacks):
            try:
                callback()
            except Exception as exc:  # cancelling is best effort; say so and go on
                self.logger.warning("could not cancel: %s", self.run.redactor(str(exc)))
        self._cancel_callbacks.clear()

    def progress(self, description: str, unit: str = "file") -> Progress:
        """A progress counter; shown as a bar when the CLI runs on a terminal."""
        return self.run.progress_factory(f"{self.executor}.{self.task}: {description}", unit)


def digest(*values: Any) -> str:
    """A short stable digest of JSON-able values (to scope state by params and args)."""
    return digest_of_json(json.dumps(values, sort_keys=True, default=str))


def json_text(value: Any) -> str:
    """``value`` as :func:`digest` writes it: ``digest(a, b)`` is
    ``digest_of_json(f"[{json_text(a)}, {json_text(b)}]")``, so a part shared by many
    digests (a block's params) is written once."""
    return _JSON.encode(value)


_JSON = json.JSONEncoder(sort_keys=True, default=str)  # json.dumps's, made once: not per call


def digest_of_json(text: str) -> str:
    """The digest of values already written as JSON text (see :func:`json_text`)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
