"""Running DuckDB work so that Ctrl-C, SIGTERM and task timeouts stop it at once.

DuckDB running a query on the main thread notices a signal late or not at all (DuckDB 2.0
often only when the query ends, then raises ``RuntimeError('Query interrupted')``). So work
started on the main thread runs on a helper thread while the main thread waits, where a
signal raises KeyboardInterrupt at once; the query is then interrupted.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from lakeroutine.errors import TaskError

T = TypeVar("T")


@contextlib.contextmanager
def duckdb_errors() -> Iterator[None]:
    """DuckDB's errors as task errors (an interrupted query included)."""
    import duckdb

    try:
        yield
    except duckdb.Error as exc:
        raise TaskError(f"DuckDB: {exc}") from None


class Interruptible:
    """Runs DuckDB work off the main thread and interrupts ``con`` if the wait is broken."""

    def __init__(self) -> None:
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def call(self, con: Any, work: Callable[[], T]) -> T:
        """``work()``'s result; on the main thread it runs on a helper thread, and a
        KeyboardInterrupt (Ctrl-C, SIGTERM) while waiting interrupts ``con``'s query."""
        with duckdb_errors():
            if threading.current_thread() is not threading.main_thread():
                return work()  # a task worker thread (timeout_s): cancelled through ctx
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(1, "duckdb-query")
            future = self._pool.submit(work)
            try:
                return future.result()
            except KeyboardInterrupt:
                con.interrupt()
                raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
