"""Run locks: a file lock for local state, and a lease any shared store can back.

:class:`FileLock` uses ``flock`` on a file beside the state: the operating system releases it
the instant its process dies. :class:`LeaseLock` keeps a lease record in the store, created
and replaced only by compare-and-swap (:class:`LeaseBackend`), renewed by a thread while the
run lives; a run killed on one machine leaves a lease that expires, and a run on any other
machine takes it over then. Two live runs never both hold it: a holder that cannot renew in
time marks the lock lost and its run stops.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

from lakeroutine.state.base import LockHeld, LockInfo, StateError

log = logging.getLogger("lakeroutine.state")

POLL_S = 0.5  # how often a waiting run looks at the lock again


class Conflict(Exception):
    """A compare-and-swap on the lease record lost: someone else changed it first."""


class LeaseBackend(Protocol):
    """Compare-and-swap on one small record; ``token`` names the version read."""

    where: str

    def read(self) -> tuple[dict[str, Any] | None, str | None]: ...
    def create(self, record: dict[str, Any]) -> str: ...  # Conflict if it exists
    def replace(self, record: dict[str, Any], token: str) -> str: ...  # Conflict if changed
    def remove(self, token: str) -> None: ...  # Conflict if changed


class LeaseLock:
    """A lease of ``ttl_s`` seconds renewed every ``ttl_s / 4`` while held."""

    def __init__(
        self, backend: LeaseBackend, ttl_s: float = 60.0, routine: str = "ROUTINE"
    ) -> None:
        self.backend = backend
        self.ttl_s = ttl_s
        self.routine = routine
        self._token: str | None = None
        self._holder: LockInfo | None = None
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()
        self._on_lost: Callable[[], None] | None = None
        self._valid_until = 0.0  # when the lease this process holds ends, unless renewed

    def holder(self) -> LockInfo | None:
        """The live holder, or None if the lock is free or its lease expired."""
        record, _token = self.backend.read()
        info = _info(record, self.backend.where, self.routine)
        if info is None or (info.expires is not None and info.expires <= time.time()):
            return None
        return info

    def acquire(
        self,
        holder: LockInfo,
        wait_s: float = 0.0,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self._on_lost = on_lost
        deadline = time.monotonic() + wait_s
        while True:
            record, token = self.backend.read()
            current = _info(record, self.backend.where, self.routine)
            mine = LockInfo(holder.run_id, holder.host, holder.pid, time.time(), self._expiry())
            try:
                if token is None:
                    self._token = self.backend.create(mine.to_json())
                elif current is None or (current.expires or 0) <= time.time():
                    self._token = self.backend.replace(mine.to_json(), token)
                    if current is not None:
                        log.warning(
                            "took over the run lock on %s: the lease of %s expired",
                            self.backend.where,
                            current.describe(),
                        )
                elif current.run_id == holder.run_id:
                    # A scheduler's retry of the same run (its worker was killed): the run is
                    # one run, so it re-attaches at once, as with a lock the kernel releases.
                    # A holder still alive loses its lease and stops writing.
                    self._token = self.backend.replace(mine.to_json(), token)
                    log.warning(
                        "re-attached to the run lock on %s held by the same run (%s)",
                        self.backend.where,
                        current.describe(),
                    )
                else:
                    raise LockHeld(current, self.backend.where, self.routine)
            except (Conflict, LockHeld) as exc:
                if time.monotonic() >= deadline:
                    if isinstance(exc, LockHeld):
                        raise
                    latest = self.holder()
                    if latest is None:
                        continue
                    raise LockHeld(latest, self.backend.where, self.routine) from None
                time.sleep(min(POLL_S, max(0.01, deadline - time.monotonic())))
                continue
            self._holder = mine
            self._valid_until = mine.expires or 0.0
            self._start_renewing()
            return

    def _expiry(self) -> float:
        return time.time() + self.ttl_s

    def _start_renewing(self) -> None:
        self._stop.clear()
        self._lost.clear()
        self._thread = threading.Thread(
            target=self._renew_loop, name="lakeroutine-lease", daemon=True
        )
        self._thread.start()

    def _renew_loop(self) -> None:
        assert self._holder is not None
        while not self._stop.wait(self.ttl_s / 4):
            with self._mutex:
                if self._stop.is_set() or self._token is None:
                    return
                renewed = LockInfo(
                    self._holder.run_id,
                    self._holder.host,
                    self._holder.pid,
                    self._holder.acquired,
                    self._expiry(),
                )
                try:
                    self._token = self.backend.replace(renewed.to_json(), self._token)
                    self._valid_until = renewed.expires or 0.0
                    continue
                except Conflict:  # taken over, or the lease record deleted: lost at once
                    log.error(
                        "lost the run lock on %s: another run took it, or it was deleted",
                        self.backend.where,
                    )
                except Exception as exc:  # a network blip: try again until the lease ends
                    if time.time() < self._valid_until - self.ttl_s / 6:
                        log.warning("could not renew the run lock (will retry): %s", exc)
                        continue
                    log.error(
                        "lost the run lock on %s: could not renew it: %s", self.backend.where, exc
                    )
                self._token = None
                self._lost.set()
                if self._on_lost is not None:
                    self._on_lost()
                return

    def lost(self) -> bool:
        return self._lost.is_set()

    def check(self) -> None:
        """Raise :class:`StateError` if this process held the lock and no longer does (its
        lease lost, or past its end unrenewed): a store calls it before every state write,
        so a run that lost its lease never writes over its successor's state."""
        if self._holder is None:
            return  # not held by this process (state show, clear --force): nothing fenced
        if self._lost.is_set() or time.time() >= self._valid_until:
            raise StateError(
                f"the run lock on {self.backend.where} was lost: this run may no longer "
                "write the routine's state (another run may hold it)"
            )

    def verify(self) -> bool:
        """:meth:`check`, then read the lease record itself: a lease taken over or deleted
        since the last renewal is lost now (one read: a store calls it before a checkpoint,
        where a run that lost its lease would otherwise write its buffered changes). True:
        this process holds the lease, proven; False: it holds none."""
        self.check()
        if self._holder is None:
            return False
        with self._mutex:
            token = self._token
        _record, current = self.backend.read()
        if current != token:
            log.error(
                "lost the run lock on %s: another run took it, or it was deleted",
                self.backend.where,
            )
            with self._mutex:
                self._token = None
            self._lost.set()
            if self._on_lost is not None:
                self._on_lost()
            self.check()
        return True

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._mutex:
            token, self._token = self._token, None
            self._holder = None
        if token is not None:
            try:
                self.backend.remove(token)
            except Conflict:
                pass  # taken over meanwhile: the lease is no longer ours to remove
            except StateError as exc:  # the store unreachable: the lease ends on its own
                log.warning("could not release the run lock (it expires in time): %s", exc)


def _info(record: dict[str, Any] | None, where: str, routine: str = "ROUTINE") -> LockInfo | None:
    if record is None or record.get("released"):
        return None
    try:
        return LockInfo.from_json(record)
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(
            f"run lock {where} is unreadable ({type(exc).__name__}: {exc}); if no run is live, "
            f"clear it with: lakeroutine state clear {routine} --force"
        ) from None


class FileLock:
    """``flock`` on ``path``; the holder's details are written into the file for others."""

    def __init__(self, path: Path, routine: str = "ROUTINE") -> None:
        self.path = path
        self.routine = routine
        self._handle: IO[str] | None = None

    def acquire(
        self,
        holder: LockInfo,
        wait_s: float = 0.0,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held while the run lives)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.close()
                    current = self.holder() or LockInfo("unknown", "unknown", 0, 0.0)
                    raise LockHeld(current, str(self.path), self.routine) from None
                time.sleep(min(POLL_S, max(0.01, deadline - time.monotonic())))
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(holder.to_json()))
        handle.flush()
        self._handle = handle

    def holder(self) -> LockInfo | None:
        """The live holder, or None if no process holds the lock."""
        import fcntl

        if self._handle is not None:
            return _read_holder(self.path)
        if not self.path.exists():
            return None
        with open(self.path, encoding="utf-8") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_holder(self.path) or LockInfo("unknown", "unknown", 0, 0.0)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return None

    def lost(self) -> bool:
        return False  # the operating system keeps it while the process lives

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.truncate(0)  # no holder named once it is free
            self._handle.close()  # closing the file releases the flock
            self._handle = None


def _read_holder(path: Path) -> LockInfo | None:
    try:
        return LockInfo.from_json(json.loads(path.read_text(encoding="utf-8") or "null"))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def this_process(run_id: str) -> LockInfo:
    """A holder record for this process running ``run_id``."""
    import socket

    return LockInfo(run_id, socket.gethostname(), os.getpid(), time.time())
