"""lakeroutine's log lines, forwarded into Dagster's event log while a step runs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lakeroutine.redact import Redactor

LOGGER = "lakeroutine"


class DagsterLogForwarder(logging.Handler):
    """Sends each record of the ``lakeroutine`` loggers to a step's ``context.log``, with
    the routine's secrets masked."""

    def __init__(self, target: Any, redactor: Redactor, level: int) -> None:
        super().__init__(level)
        self.target = target
        self.redactor = redactor
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.redactor(self.format(record))
            self.target.log(record.levelno, message)
        except Exception:  # a log line must never fail the step
            self.handleError(record)


@contextmanager
def forwarded_logs(target: Any, redactor: Redactor, level: int = logging.INFO) -> Iterator[None]:
    """While the block runs, records of ``lakeroutine`` loggers at ``level`` or above reach
    ``target`` (a Dagster ``context.log``); the logger's own level is restored afterwards."""
    logger = logging.getLogger(LOGGER)
    handler = DagsterLogForwarder(target, redactor, level)
    saved = logger.level
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)
