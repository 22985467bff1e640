"""Every hook a lakeroutine plugin can implement, in one place.

Plugins implement these with ``@lakeroutine.hookimpl``. Hooks are always called with
keyword arguments, and specs only ever grow by new keyword arguments, so an implementation
may accept just the arguments it needs.

Registration hooks receive a ``register`` callback (the habit of pytest, llm and datasette):
the core owns the registries, checks what it is given and remembers which plugin gave it.
Lifecycle hooks observe a run and should not raise: an exception in ``routine_started``
stops the run, in ``task_started`` or ``task_finished`` fails that task, and in ``task_failed``
or ``routine_finished`` is logged; each error names the plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from lakeroutine.context import TaskContext
    from lakeroutine.results import RunResult, TaskResult
    from lakeroutine.routine import Routine

PROJECT_NAME = "lakeroutine"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_executors(register: Callable[..., None]) -> None:
    """Register executor classes.

    ``register(cls)`` takes a subclass of :class:`lakeroutine.Executor`; its ``name`` is the
    key a routine file uses. ``register("package.module:Class", name="Name")`` registers it
    by path: the module is imported only when a routine uses ``Name`` (loading a routine
    for a scheduler imports only what it uses). Two plugins registering one name is an error.
    """


@hookspec
def register_tasks(register: Callable[..., None]) -> None:
    """Add tasks to an executor that another plugin owns.

    ``register(executor_name, task_name, function, args_model=None)``: ``function`` is
    called as ``function(executor, args=..., ctx=...)`` (it may accept only the keywords it
    needs); ``args_model`` is a pydantic model for the task's ``args``, or ``"module:Class"``
    to import it only when a routine uses the task.
    """


@hookspec
def register_storages(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register storage backends by URL scheme.

    ``register(scheme, factory)``: ``factory(**options)`` returns an object implementing
    :class:`lakeroutine.storage.Storage` for URLs of that scheme (``"s3"`` for ``s3://``).
    Local paths (scheme ``"file"``) are built in.
    """


@hookspec
def register_state_stores(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register state stores by URL scheme.

    ``register(scheme, factory)``: ``factory(url, routine=NAME)`` returns an object
    implementing :class:`lakeroutine.state.StateStore` holding the state of routine ``NAME``
    at ``url``, without reading or writing anything until first used. Local folders
    (scheme ``"file"``, SQLite) are built in. Two plugins registering one scheme is an error.
    """


@hookspec
def routine_started(routine: Routine, run_id: str) -> None:
    """A validated routine is about to run its first task."""


@hookspec
def routine_finished(routine: Routine, result: RunResult) -> None:
    """A routine that started has finished, whatever its status (see ``result.status``); a
    run refused before its first task (a preflight check) calls neither hook."""


@hookspec
def task_started(routine: Routine, ctx: TaskContext) -> None:
    """A task is about to run (called again for each retry); ``ctx`` names it."""


@hookspec
def task_finished(routine: Routine, ctx: TaskContext, result: TaskResult) -> None:
    """A task succeeded; ``result.output`` holds what it returned, ``ctx.lineage`` what it
    declared it read and wrote (:mod:`lakeroutine.lineage`)."""


@hookspec
def task_failed(
    routine: Routine, ctx: TaskContext, error: BaseException, will_retry: bool, duration_s: float
) -> None:
    """A task attempt raised ``error``; ``will_retry`` says whether another attempt follows;
    ``duration_s`` is how long the attempt ran (as ``task_finished``'s ``result`` has it)."""
