"""The CLI's line per task, written straight to its console rather than as a log record.

A run says when each task starts and how it ended. Through ``logging`` each such line costs a
record, two masking filters, a lock and a format: more than the orchestrator's own work for
a short task. While ``lakeroutine`` commands run, the CLI's handler is the only one for
lakeroutine's loggers, so the CLI installs a writer here that masks, formats and writes the
line as that handler would, without the record. Anywhere else (a program, Airflow, Dagster)
no writer is installed and the lines are ordinary ``lakeroutine.run`` INFO records.
"""

from __future__ import annotations

from collections.abc import Callable

LineWriter = Callable[..., None]
"""``writer(format, *args)``: one INFO line, ``format % args``, masked."""

_writer: LineWriter | None = None


def install(writer: LineWriter | None) -> LineWriter | None:
    """Make ``writer`` the console's (None: none); returns the one it replaces."""
    global _writer
    previous, _writer = _writer, writer
    return previous


def info_writer() -> LineWriter | None:
    """The installed writer of INFO lines, if a CLI command installed one."""
    return _writer
