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
still running; the ids the executor saved in the run state before waiting are what a later
run re-attaches to. The task ends with status ``deferred`` and its output is
:meth:`WaitPending.to_dict`: ``wait`` (which wait: ``what``, with `` #n`` for the n-th wait
of that name in the task), ``what``, ``interval_s``, ``max_wait_s``, ``waited_s``, ``done``.
The scheduler then:

- probes, every ``interval_s``, with ``Deferral(wait=..., probe=True, waited_s=...)``: the
  task runs again, re-attaching to what it started; a wait that has ended goes on at once,
  until the awaited one, which looks once and stops the task (``deferred`` again, with
  ``"done": true`` once it has ended or waited past ``max_wait_s``). A probe stops at the
  awaited wait, or at any other wait that is still running (then ``done`` too, to hand the
  task back to a worker): it never goes past a running wait, so it starts nothing new
  (it calls no lifecycle hook either, and logs at DEBUG);
- then resumes with ``Deferral(wait=..., waited_s=...)``: the task runs again, re-attaches,
  finds the awaited work ended and goes on (deferring again at a later wait that is still
  running); past ``max_wait_s`` it stops the work as a blocking wait would (``give_up``).

Waits are told apart by name, not by count, because a task may skip the waits of work it
finished in an earlier try (Redshift scripts do).
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
    """How a scheduler that takes waits over runs a task (see the module's docstring):
    ``wait`` is the wait it handed over (None the first time)."""

    wait: str | None = None
    probe: bool = False
    waited_s: float = 0.0


class WaitPending(Exception):
    """Raised by :func:`poll` under a :class:`Deferral`: the work is running (or, for a
    probe, ``done``), and the scheduler should wait for it instead of a worker."""

    def __init__(
        self,
        wait: str,
        what: str,
        interval_s: float,
        max_wait_s: float,
        waited_s: float,
        done: bool = False,
    ) -> None:
        super().__init__(f"{wait}: {'ended' if done else 'still running'}")
        self.wait = wait
        self.what = what
        self.interval_s = interval_s
        self.max_wait_s = max_wait_s
        self.waited_s = waited_s
        self.done = done

    def to_dict(self) -> dict[str, Any]:
        """What the scheduler needs to probe and resume: JSON-able."""
        return {
            "wait": self.wait,
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
    deferral: Deferral | None = getattr(ctx, "deferral", None)
    if deferral is not None:
        key = _wait_key(ctx, what)
        return _deferred(ctx, deferral, key, look, what, interval_s, max_wait_s, give_up, detail)
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


def _wait_key(ctx: TaskContext, what: str) -> str:
    """``what``, or ``what #n`` for the n-th wait of that name in this attempt."""
    count = ctx.waits[what] = ctx.waits.get(what, 0) + 1
    return what if count == 1 else f"{what} #{count}"


def _deferred(
    ctx: TaskContext,
    deferral: Deferral,
    key: str,
    look: Callable[[], T | None],
    what: str,
    interval_s: float,
    max_wait_s: float,
    give_up: Callable[[], bool | None] | None,
    detail: str,
) -> T:
    """One look, then go on, or hand the wait to the scheduler (:class:`WaitPending`)."""
    ctx.check_cancelled()
    awaited = key == deferral.wait
    waited = deferral.waited_s if awaited else 0.0
    result = look()
    over = waited > max_wait_s

    def pending(done: bool) -> WaitPending:
        return WaitPending(key, what, interval_s, max_wait_s, waited, done)

    if deferral.probe:
        if awaited:
            raise pending(result is not None or over)
        if result is None:  # not the awaited wait, still running: back to a worker
            raise pending(True)
        return result  # an earlier wait, ended: on to the awaited one
    if result is not None:
        return result
    if over:
        raise TaskError(_gave_up(what, max_wait_s, give_up, detail))
    raise pending(False)


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
