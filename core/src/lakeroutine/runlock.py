"""One run of a routine at a time, per state: a lock file beside the routine's state.

Two runs of one routine would race on its journal and its files. The lock is an ``flock``
on ``<state_dir>/<routine>.lock``: the kernel releases it when the holder dies, even by
SIGKILL, so a killed run never blocks the next one. The file names the holder (run id, pid,
host, start) for the message a second run gets.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import threading
from pathlib import Path

from lakeroutine.errors import RoutineError

POLL_S = 0.2


class RunLocked(RoutineError):
    """Another run of the routine holds its lock."""


class RunLock:
    """The lock of one routine's state; ``acquire`` then ``release``."""

    def __init__(self, path: Path, routine_name: str) -> None:
        self.path = path
        self.routine_name = routine_name
        self._fd: int | None = None

    def acquire(
        self, run_id: str, *, wait: bool = False, cancel: threading.Event | None = None
    ) -> None:
        """Take the lock, or raise :class:`RunLocked` naming the holder (``wait=False``),
        or wait until it is free (``wait=True``; ``cancel`` stops the wait)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not wait:
                        raise RunLocked(
                            f"routine {self.routine_name!r} is already running "
                            f"({self._holder(fd)}); run again when it ends, or pass --wait "
                            "to wait for it"
                        ) from None
                    if (cancel or threading.Event()).wait(POLL_S):
                        raise KeyboardInterrupt(
                            "cancelled while waiting for the run lock"
                        ) from None
        except BaseException:
            os.close(fd)
            raise
        holder = {
            "run_id": run_id,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing releases the flock
        self._fd = None

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
        except ValueError:
            holder = {}
        if not holder:
            return "another process holds its lock"
        return (
            f"run {holder.get('run_id')}, pid {holder.get('pid')} on {holder.get('host')}, "
            f"since {holder.get('since')}"
        )
