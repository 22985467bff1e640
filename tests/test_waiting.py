"""``lakeroutine.waiting.poll``, the one wait loop of the AWS executors, run for real with a
TaskContext: results, max waits (stop or leave the work), and cancellation mid-wait."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from lakeroutine.context import RunContext, TaskCancelled, TaskContext
from lakeroutine.errors import TaskError
from lakeroutine.redact import Redactor
from lakeroutine.storage.registry import StorageRegistry
from lakeroutine.waiting import poll


@pytest.fixture
def ctx(tmp_path: Path) -> TaskContext:
    run = RunContext(
        routine_name="waiting",
        run_id="20260101T000000-test",
        run_date="2026-01-01",
        base_dir=tmp_path,
        state_dir=tmp_path / "state",
        storages=StorageRegistry({}),
        redactor=Redactor(),
    )
    return TaskContext(run, "ProbeExecutor", "wait")


class Work:
    """Remote work that ends after ``looks_needed`` looks; records stops and looks."""

    def __init__(self, looks_needed: int, stops: bool | None = True) -> None:
        self.looks_needed = looks_needed
        self.looks = 0
        self.stopped = 0
        self.stops = stops

    def look(self) -> dict[str, str] | None:
        self.looks += 1
        return {"state": "SUCCEEDED"} if self.looks >= self.looks_needed else None

    def give_up(self) -> bool | None:
        self.stopped += 1
        return self.stops


def test_returns_the_first_result(ctx: TaskContext) -> None:
    work = Work(looks_needed=3)
    result = poll(
        ctx, work.look, what="query q1", interval_s=0.01, max_wait_s=30, give_up=work.give_up
    )
    assert result == {"state": "SUCCEEDED"}
    assert work.looks == 3 and work.stopped == 0


def test_max_wait_stops_the_work_once_and_names_it(ctx: TaskContext) -> None:
    work = Work(looks_needed=10**9)
    started = time.monotonic()
    with pytest.raises(TaskError) as raised:
        poll(
            ctx,
            work.look,
            what="Glue job 'nightly' run jr_1",
            interval_s=0.01,
            max_wait_s=0.05,
            give_up=work.give_up,
            detail="SQL: SELECT 1",
        )
    assert time.monotonic() - started < 2
    assert work.stopped == 1 and work.looks >= 2
    assert str(raised.value) == (
        "Glue job 'nightly' run jr_1 did not finish within max_wait_s=0.05; stopped\nSQL: SELECT 1"
    )


def test_max_wait_says_when_the_work_could_not_be_stopped(ctx: TaskContext) -> None:
    work = Work(looks_needed=10**9, stops=False)
    with pytest.raises(TaskError, match=r"query q1 did not finish .*; could not stop it"):
        poll(
            ctx, work.look, what="query q1", interval_s=0.01, max_wait_s=0.03, give_up=work.give_up
        )
    assert work.stopped == 1


def test_max_wait_leaves_work_it_did_not_start_running(ctx: TaskContext) -> None:
    work = Work(looks_needed=10**9)
    with pytest.raises(TaskError) as raised:
        poll(ctx, work.look, what="crawl of c", interval_s=0.01, max_wait_s=0.03, give_up=None)
    assert str(raised.value) == (
        "crawl of c did not finish within max_wait_s=0.03; left running "
        "(this task did not start it)"
    )
    assert work.stopped == 0


def test_cancelling_the_task_interrupts_the_sleep(ctx: TaskContext) -> None:
    """Ctrl-C or timeout_s (the orchestrator sets the task's event and runs its cancel
    callbacks itself): the wait ends at once, without waiting out the interval."""
    work = Work(looks_needed=10**9)
    callbacks: list[str] = []
    ctx.on_cancel(lambda: callbacks.append("stopped"))
    threading.Timer(0.05, ctx.cancel_event.set).start()
    started = time.monotonic()
    with pytest.raises(TaskCancelled):
        poll(ctx, work.look, what="query q1", interval_s=30, max_wait_s=60, give_up=work.give_up)
    assert time.monotonic() - started < 5  # not the 30 s interval
    assert work.looks == 1 and work.stopped == 0
    assert callbacks == []  # the orchestrator's job on this path, not done twice


def test_interrupting_the_run_stops_the_work_this_task_started(ctx: TaskContext) -> None:
    """The run's event alone (no one ran this task's callbacks): poll runs them, once."""
    work = Work(looks_needed=10**9)
    callbacks: list[str] = []
    ctx.on_cancel(lambda: callbacks.append("stopped"))
    threading.Timer(0.05, ctx.run.cancel_event.set).start()
    with pytest.raises(TaskCancelled):
        poll(ctx, work.look, what="query q1", interval_s=0.01, max_wait_s=60, give_up=None)
    assert callbacks == ["stopped"]
    ctx.run_cancel_callbacks()  # what a later cancel would do: nothing left to run
    assert callbacks == ["stopped"]
