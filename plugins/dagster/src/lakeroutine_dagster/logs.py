"""lakeroutine's log lines, forwarded into Dagster's event log while a step runs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lakeroutine.redact import mask

LOGGER = "lakeroutine"


class DagsterLogForwarder(logging.Handler):
    """Sends each record of the ``lakeroutine`` loggers to a step's ``context.log``, with
    every secret lakeroutine knows of masked (``lakeroutine.redact``)."""

    def __init__(self, target: Any, level: int) -> None:
        super().__init__(level)
        self.target = target
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = mask(self.format(record))
            self.target.log(record.levelno, message)
        except Exception:  # a log line must never fail the step
            self.handleError(record)


@contextmanager
def forwarded_logs(target: Any, level: int = logging.INFO) -> Iterator[None]:
    """While the block runs, records of ``lakeroutine`` loggers at ``level`` or above reach
    ``target`` (a Dagster ``context.log``); the logger's own level is restored afterwards."""
    logger = logging.getLogger(LOGGER)
    handler = DagsterLogForwarder(target, level)
    saved = logger.level
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)
