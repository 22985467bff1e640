"""Waiting on long remote work (a query, a job run, a crawl, a statement), the way every
AWS executor does it: one loop, so max waits, cancels and messages agree everywhere.

``poll`` calls ``look()`` every ``interval_s`` until it returns a result (the work ended,
well or badly: the caller judges). Sleeping goes through ``ctx.sleep``, so Ctrl-C, SIGTERM
and the task's ``timeout_s`` interrupt the wait. After ``max_wait_s`` it calls ``give_up()``
(stop the work) and raises a :class:`~lakeroutine.errors.TaskError` naming ``what``; work
this task did not start has no ``give_up`` and is left running.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from lakeroutine.context import TaskCancelled, TaskContext
from lakeroutine.errors import TaskError

T = TypeVar("T")

__all__ = ["poll"]


def poll(
    ctx: TaskContext,
    look: Callable[[], T | None],
    *,
    what: str,
    interval_s: float,
    max_wait_s: float,
    give_up: Callable[[], bool | None] | None,
    detail: str = "",
) -> T:
    """The first non-None ``look()``, looking every ``interval_s`` seconds.

    After ``max_wait_s`` seconds: ``give_up()`` is called once and a TaskError says
    "<what> did not finish within max_wait_s=<n>; stopped" ("could not stop it" if
    ``give_up`` returned False, "left running" without ``give_up``), then ``detail`` on a
    new line if given (e.g. the SQL). If the whole run is interrupted while this task's
    cancel callbacks were not run (the orchestrator runs them on Ctrl-C and timeouts),
    they are run here before TaskCancelled propagates: the work must not run on.
    """
    started = time.monotonic()
    while True:
        result = look()
        if result is not None:
            return result
        if time.monotonic() - started > max_wait_s:
            raise TaskError(_gave_up(what, max_wait_s, give_up, detail))
        try:
            ctx.sleep(interval_s)
        except TaskCancelled:
            if not ctx.cancel_event.is_set():  # the run was stopped, not this task
                ctx.cancel_event.set()
                ctx.run_cancel_callbacks()
            raise


def _gave_up(
    what: str, max_wait_s: float, give_up: Callable[[], bool | None] | None, detail: str
) -> str:
    """Stop the work (if this task may) and say what became of it."""
    if give_up is None:
        outcome = "left running (this task did not start it)"
    elif give_up() is False:
        outcome = "could not stop it (it may have just ended)"
    else:
        outcome = "stopped"
    message = f"{what} did not finish within max_wait_s={max_wait_s:g}; {outcome}"
    return f"{message}\n{detail}" if detail else message
