"""Running a function over a stream of items on a thread pool, with memory kept flat."""

from __future__ import annotations

import concurrent.futures as cf
import itertools
from collections.abc import Callable, Iterable, Iterator
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
