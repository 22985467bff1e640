"""Polling a Glue job run or crawl until it ends, within ``max_wait_s``, cancellably.

``poll`` calls ``look()`` every ``poll_interval_s`` (sleeping with ``ctx.sleep`` so Ctrl-C
and timeouts interrupt it) until it returns a result, and calls ``give_up()`` (stop the
work) if ``max_wait_s`` passes first; work this task did not start has no ``give_up``
and is left running.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from lakeroutine.context import TaskContext
from lakeroutine.errors import TaskError

T = TypeVar("T")

JOB_RUN_FAILURES = frozenset({"FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED"})
CRAWL_FAILURES = frozenset({"FAILED", "CANCELLED", "STOPPED", "ERROR", "TIMEOUT"})


def poll(
    ctx: TaskContext,
    look: Callable[[], T | None],
    *,
    what: str,
    interval_s: float,
    max_wait_s: float,
    give_up: Callable[[], None] | None,
) -> T:
    """The first non-None ``look()``; TaskError naming ``what`` after ``max_wait_s``."""
    started = time.monotonic()
    while True:
        result = look()
        if result is not None:
            return result
        if time.monotonic() - started > max_wait_s:
            if give_up is None:
                outcome = "left running (this task did not start it)"
            else:
                give_up()
                outcome = "stopped"
            raise TaskError(f"{what} did not finish within max_wait_s={max_wait_s:g}; {outcome}")
        ctx.sleep(interval_s)
