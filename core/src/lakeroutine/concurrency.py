"""Running a function over a stream of items on a thread pool, with memory kept flat; and
how many CPUs one of several calls running at once may use."""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(
    function: Callable[[T], R], items: Iterable[T], max_workers: int, window: int | None = None
) -> Iterator[R]:
    """Yield ``function(item)`` for each item, in completion order.

    At most ``window`` items (default 4 per worker) are in flight, so a stream of 100,000
    listed files never sits in memory at once. The first exception stops new submissions,
    waits for the running calls to end, and is raised.
    """
    if max_workers <= 1:
        for item in items:
            yield function(item)
        return
    window = window or max_workers * 4
    iterator = iter(items)
    with cf.ThreadPoolExecutor(max_workers, thread_name_prefix="lakeroutine") as pool:
        pending = {pool.submit(function, item) for item in itertools.islice(iterator, window)}
        try:
            while pending:
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    yield future.result()
                for item in itertools.islice(iterator, len(done)):
                    pending.add(pool.submit(function, item))
        finally:
            for future in pending:
                future.cancel()


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, where the platform tells)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


_share = threading.local()


def cpu_share() -> int:
    """CPUs the calling thread's work may use: what :func:`sharing_cpus` set for the call
    it runs (a per-file transformation beside others), else every usable CPU. A
    transformation with its own thread pool (pyarrow's) sizes it by this, so two calls at
    once on two CPUs do not each start threads for both."""
    return getattr(_share, "cpus", None) or usable_cpus()


@contextmanager
def sharing_cpus(cpus: int) -> Iterator[None]:
    """Within the block, :func:`cpu_share` in this thread is ``cpus`` (at least 1)."""
    before = getattr(_share, "cpus", None)
    _share.cpus = max(1, cpus)
    try:
        yield
    finally:
        _share.cpus = before
