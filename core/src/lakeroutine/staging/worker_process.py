"""The worker side of a per-file transformation run in its own process.

Started by :mod:`lakeroutine.staging.workers` as ``python -m
lakeroutine.staging.worker_process IN_FD OUT_FD`` (a fresh interpreter: never a fork of a
parent whose threads may hold locks). It receives the transformation's reference, its
arguments, the parent's ``sys.path`` and log level once, then one ``(source, target,
share)`` call at a time (``share``: the CPUs the call may use), and answers each with
``done`` or the error's type and text. Log records are sent to the parent, where its
handlers (and their masking of secrets) write them. It ends when the
parent closes its pipe (or dies).
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import struct
import sys
import threading
from pathlib import Path
from typing import IO, Any

_LENGTH = struct.Struct("!I")


def send(stream: IO[bytes], message: tuple[Any, ...]) -> None:
    """Write one message: its length, then its pickle (both sides are this package)."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(body)) + body)
    stream.flush()


def receive(stream: IO[bytes]) -> tuple[Any, ...] | None:
    """Read one message, or None when the other side has closed its end (or died)."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    body = stream.read(length)
    if len(body) < length:
        return None
    return pickle.loads(body)  # written by our own parent process


class _ToParent(logging.Handler):
    """Sends each log record (its text already formatted) to the parent process."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self.stream = stream
        self.sending = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            with self.sending:
                send(self.stream, ("log", record.name, record.levelno, message))
        except Exception:  # a log line must never fail the transformation
            self.handleError(record)


def _failure(exc: BaseException) -> tuple[str, str, str]:
    return ("error", type(exc).__name__, str(exc))


def serve(inp: IO[bytes], out: IO[bytes]) -> int:
    """Load the transformation, then run calls until the parent closes the pipe."""
    from lakeroutine.concurrency import sharing_cpus
    from lakeroutine.staging.transforms import TransformRef, load_function

    first = receive(inp)
    if first is None:
        return 0
    _, path, level, (kind, target, function_name), args = first
    sys.path[:] = path
    sending = _ToParent(out)
    logging.getLogger().addHandler(sending)
    logging.getLogger().setLevel(level)  # the parent's: records it would drop stay here
    try:
        function = load_function(TransformRef(kind, target, function_name))
    except Exception as exc:  # reported to the parent, which fails the task
        send(out, _failure(exc))
        return 0
    send(out, ("ready",))
    while (message := receive(inp)) is not None:
        _, source, output, share = message
        try:
            with sharing_cpus(share):
                function(Path(source), Path(output), **args)
        except BaseException as exc:  # SystemExit too: the file failed
            with sending.sending:
                send(out, _failure(exc))
        else:
            with sending.sending:
                send(out, ("done",))
    return 0


def main(argv: list[str]) -> int:
    """Entry point: ``IN_FD OUT_FD`` are the pipe ends the parent passed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    with os.fdopen(int(argv[1]), "rb") as inp, os.fdopen(int(argv[2]), "wb") as out:
        return serve(inp, out)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
