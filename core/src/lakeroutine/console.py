"""The CLI's line per task, written straight to its console rather than as a log record.

A run says when each task starts and how it ended. Through ``logging`` each such line costs a
record, two masking filters, a lock and a format: more than the orchestrator's own work for
a short task. While ``lakeroutine`` commands run, the CLI's handler is the only one for
lakeroutine's loggers, so the CLI installs a writer here that masks, formats and writes the
line as that handler would, without the record. Anywhere else (a program, Airflow, Dagster)
no writer is installed and the lines are ordinary ``lakeroutine.run`` INFO records.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

LineWriter = Callable[..., None]
"""``writer(format, *args)``: one INFO line, ``format % args``, masked."""

HOLD_S = 0.05
"""How long a line may wait to be written with the lines said after it (one write for many
short tasks' lines, not a write and a flush each; a long task's line still shows at once)."""

_writer: LineWriter | None = None


def install(writer: LineWriter | None) -> LineWriter | None:
    """Make ``writer`` the console's (None: none); returns the one it replaces."""
    global _writer
    previous, _writer = _writer, writer
    return previous


def info_writer() -> LineWriter | None:
    """The installed writer of INFO lines, if a CLI command installed one."""
    return _writer


def flush() -> None:
    """Write the installed writer's held lines now (before the CLI prints anything else)."""
    held = getattr(_writer, "flush", None)
    if held is not None:
        held()


class HeldLines:
    """INFO lines for ``stream``, masked by ``redact`` and made by ``line(level, text, time)``,
    held at most :data:`HOLD_S` so that lines said together cost one write and one flush.

    Whoever else writes to ``stream`` calls :meth:`flush` first under ``lock`` (the CLI's
    handler does, for every record), so the console keeps the order things were said in.
    :meth:`close` writes what is held and stops the thread that writes late lines."""

    def __init__(
        self,
        stream: TextIO,
        lock: Any,
        line: Callable[[str, str, float], str],
        redact: Callable[[str], str],
    ) -> None:
        self._stream, self._lock, self._line, self._redact = stream, lock, line, redact
        self._held: deque[str] = deque()  # appended without the lock: deque's are atomic
        self._waiting = threading.Event()  # set while lines are held
        self._closing = threading.Event()
        self._closed = False
        self._late = threading.Thread(target=self._write_late, name="console-lines", daemon=True)
        self._late.start()

    def __call__(self, message: str, *args: object) -> None:
        text = self._redact(message % args if args else message)
        self._held.append(self._line("INFO", text, time.time()))
        if not self._waiting.is_set():
            self._waiting.set()

    def flush(self) -> None:
        """Write the held lines. A console that is gone (a closed pipe: ``run | head``)
        loses them, as a log handler loses its records there: the run goes on."""
        with self._lock:
            if not self._closed:
                self._waiting.clear()  # first: a line held after this sets it again
            held = self._held
            if held:
                lines = [held.popleft() for _ in range(len(held))]
                try:
                    self._stream.write("\n".join(lines) + "\n")
                    self._stream.flush()
                except (OSError, ValueError):  # broken pipe, closed file
                    pass

    def close(self) -> None:
        with self._lock:  # under the lock: a flush under way cannot clear the wake-up
            self._closed = True
            self._waiting.set()
        self._closing.set()
        self._late.join()
        self.flush()

    def _write_late(self) -> None:
        while self._waiting.wait() and not self._closed:
            self._closing.wait(HOLD_S)
            self.flush()


class CliHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The CLI's log handler: it writes the console's held lines before each record."""

    held: HeldLines | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.held is not None:
            self.held.flush()
        super().emit(record)
