"""Keeping secrets out of logs, errors and reports: one registry, masked where text leaves.

Every secret value lakeroutine learns (a ``SecretStr`` param, a ``${env:NAME}`` whose name
says PASSWORD, SECRET, TOKEN..., wherever it is read: a param, a var, a ``sql_file``) is
:func:`remember`-ed for the life of the process. Text is masked where it leaves the process:
the CLI's log handler and its printed lines, error messages, the run's result and report.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"

_remembered: set[str] = set()
_longest_first: tuple[str, ...] = ()  # _remembered, so a secret holding another is masked whole
_lock = threading.Lock()


def _usable(values: Iterable[Any]) -> set[str]:
    # Very short values would mask innocent text everywhere; 4+ characters only.
    return {s for s in values if isinstance(s, str) and len(s) >= 4}


def remember(secrets: Iterable[Any]) -> None:
    """Mask these values everywhere text leaves the process, from now on."""
    global _longest_first
    found = _usable(secrets)
    if found - _remembered:
        with _lock:
            _remembered.update(found)
            _longest_first = tuple(sorted(_remembered, key=len, reverse=True))


class Redactor:
    """Replaces secret values in text (its own and every remembered one); callable on
    strings, :meth:`walk` goes through JSON-able values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Mask these too (and remember them for the whole process)."""
        remember(secrets)

    def __call__(self, text: str) -> str:
        if not isinstance(text, str):
            return text
        for secret in _longest_first:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def walk(self, value: Any) -> Any:
        """``value`` with secrets masked in every string it holds."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.walk(v) for v in value]
        return value


_process = Redactor()


def process_redactor() -> Redactor:
    """The redactor of every remembered secret."""
    return _process


def mask(text: str) -> str:
    """``text`` with every remembered secret replaced by ``***``."""
    return _process(text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in each record's final message."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        done = (self.redactor, len(_remembered))
        if getattr(record, "_lakeroutine_masked", None) == done:
            return True  # masked by this redactor already (a logger's filter, then a handler's)
        message = record.getMessage()
        cleaned = self.redactor(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:
            record.exc_text = self.redactor(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        record._lakeroutine_masked = done
        return True


_guarded: set[str] = set()


def guard_loggers(prefixes: Iterable[str]) -> None:
    """Mask every remembered secret in what the loggers under ``prefixes`` log, whatever
    handler receives it. A filter goes on each existing logger of those names, because a
    logger's filters do not see the records its children propagate."""
    prefixes = tuple(prefixes)
    with _lock:
        names = [
            name
            for name in list(logging.Logger.manager.loggerDict)
            if name.split(".")[0] in prefixes
        ]
        for name in [*prefixes, *names]:
            if name not in _guarded:
                logging.getLogger(name).addFilter(RedactingFilter(_process))
                _guarded.add(name)
