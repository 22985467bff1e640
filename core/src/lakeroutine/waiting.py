"""Waiting on long remote work (a query, a job run, a crawl, a statement), the way every
AWS executor does it: one loop, so max waits, cancels and messages agree everywhere.

``poll`` calls ``look()`` every ``interval_s`` until it returns a result (the work ended,
well or badly: the caller judges). Sleeping goes through ``ctx.sleep``, so Ctrl-C, SIGTERM
and the task's ``timeout_s`` interrupt the wait. After ``max_wait_s`` it calls ``give_up()``
(stop the work) and raises a :class:`~lakeroutine.errors.TaskError` naming ``what``; work
this task did not start has no ``give_up`` and is left running.

A scheduler can take a task's long waits over (Airflow's triggerer, for one) by running
the task with a :class:`Deferral` (``run_routine(..., deferral=Deferral())``): instead of
sleeping, ``poll`` then raises :class:`WaitPending` on the first look that finds the work
still running, after saving nothing new: the ids the executor saved in the run state before
waiting are what a later run re-attaches to. The task ends with status ``deferred`` and its
output is :meth:`WaitPending.to_dict` (``poll``: which wait of the task, counted from 0;
``what``; ``interval_s``; ``max_wait_s``; ``waited_s``). The scheduler then:

- probes, every ``interval_s``, with ``Deferral(resume_at=poll, probe=True,
  waited_s=...)``: the task runs again (re-attaching to what it started), earlier waits
  end at once, and wait number ``poll`` looks once: still running gives ``deferred`` again,
  ended (or past ``max_wait_s``) gives ``deferred`` with ``"done": true``; a probe never
  goes past that wait, so it starts nothing new and writes no results;
- then resumes with ``Deferral(resume_at=poll, waited_s=...)``: the task runs again,
  re-attaches, finds wait ``poll`` ended and goes on (it may defer again at a later wait);
  past ``max_wait_s`` it stops the work as a blocking wait would (``give_up``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lakeroutine.context import TaskCancelled, TaskContext
from lakeroutine.errors import TaskError

T = TypeVar("T")

__all__ = ["Deferral", "WaitPending", "poll"]


@dataclass(frozen=True)
class Deferral:
    """How a scheduler that takes waits over runs a task (see the module's docstring)."""

    resume_at: int = 0
    probe: bool = False
    waited_s: float = 0.0


class WaitPending(Exception):
    """Raised by :func:`poll` under a :class:`Deferral`: the work is running (or, for a
    probe, ``done``), and the scheduler should wait for it instead of a worker."""

    def __init__(
        self,
        poll: int,
        what: str,
        interval_s: float,
        max_wait_s: float,
        waited_s: float,
        done: bool = False,
    ) -> None:
        super().__init__(f"{what}: {'ended' if done else 'still running'} (wait {poll})")
        self.poll = poll
        self.what = what
        self.interval_s = interval_s
        self.max_wait_s = max_wait_s
        self.waited_s = waited_s
        self.done = done

    def to_dict(self) -> dict[str, Any]:
        """What the scheduler needs to probe and resume: JSON-able."""
        return {
            "poll": self.poll,
            "what": self.what,
            "interval_s": self.interval_s,
            "max_wait_s": self.max_wait_s,
            "waited_s": self.waited_s,
            "done": self.done,
        }


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
    ``ctx.deferral`` set (a scheduler took waits over): see :class:`Deferral`.
    """
    index = ctx.polls
    ctx.polls += 1
    deferral: Deferral | None = getattr(ctx, "deferral", None)
    if deferral is not None and index >= deferral.resume_at:
        return _deferred(ctx, deferral, index, look, what, interval_s, max_wait_s, give_up, detail)
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


def _deferred(
    ctx: TaskContext,
    deferral: Deferral,
    index: int,
    look: Callable[[], T | None],
    what: str,
    interval_s: float,
    max_wait_s: float,
    give_up: Callable[[], bool | None] | None,
    detail: str,
) -> T:
    """One look, then hand the wait to the scheduler (:class:`WaitPending`) or go on."""
    ctx.check_cancelled()
    waited = deferral.waited_s if index == deferral.resume_at else 0.0
    result = look()
    over = waited > max_wait_s
    if deferral.probe:
        raise WaitPending(index, what, interval_s, max_wait_s, waited, result is not None or over)
    if result is not None:
        return result
    if over:
        raise TaskError(_gave_up(what, max_wait_s, give_up, detail))
    raise WaitPending(index, what, interval_s, max_wait_s, waited)


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
