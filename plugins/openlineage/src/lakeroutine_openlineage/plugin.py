"""Registers the lifecycle hooks that emit OpenLineage events. The OpenLineage client is
imported when the first task of a run starts, not when plugins load."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeroutine import hookimpl

if TYPE_CHECKING:
    from lakeroutine.context import TaskContext
    from lakeroutine.results import RunResult, TaskResult
    from lakeroutine.routine import Routine


@hookimpl
def routine_started(routine: Routine, run_id: str) -> None:
    from lakeroutine_openlineage import observer

    observer.start_run(routine, run_id)


@hookimpl
def task_started(routine: Routine, ctx: TaskContext) -> None:
    from lakeroutine_openlineage import observer

    state = observer.RunState.START if ctx.attempt == 1 else observer.RunState.RUNNING
    observer.task_event(routine, ctx, state)


@hookimpl
def task_finished(routine: Routine, ctx: TaskContext, result: TaskResult) -> None:
    from lakeroutine_openlineage import observer

    observer.task_event(routine, ctx, observer.RunState.COMPLETE, with_lineage=True)


@hookimpl
def task_failed(
    routine: Routine, ctx: TaskContext, error: BaseException, will_retry: bool, duration_s: float
) -> None:
    from lakeroutine_openlineage import observer

    observer.task_failed(routine, ctx, error, will_retry)


@hookimpl
def routine_finished(routine: Routine, result: RunResult) -> None:
    from lakeroutine_openlineage import observer

    observer.finish_run(routine)
