"""The ``s3://bucket/prefix/`` state store: run state every machine sees, in the lake's own
bucket, changed only by conditional writes.

Below ``prefix/<routine>/``::

    lock.json                      the run lock's lease (LeaseLock over IfNoneMatch/IfMatch)
    values/<digest>.json           saved values of one task scope, replaced with IfMatch
    records/<digest>/...           one record table (the staging journal) as an append-only
                                   log of segments with compaction (state_log.py)

URL options (query string): ``lease_s`` (the lock's lease, default 60 s) and any S3 client
setting (``endpoint_url``, ``region_name``, ``profile_name``...); the standard AWS
environment applies as for the storage.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lakeroutine.state.base import CorruptState, StateError, corrupt
from lakeroutine.state.lock import Conflict, LeaseLock
from lakeroutine.state.sqlite import state_key

from lakeroutine_s3.state_log import S3Records
from lakeroutine_s3.state_objects import StateObjects

DEFAULT_LEASE_S = 60.0
ATTEMPTS = 5  # conditional read-modify-write rounds before giving up


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:24]


def open_s3_state(url: str, *, routine: str) -> S3StateStore:
    """The factory registered for ``s3://`` state URLs."""
    parts = urlsplit(url)
    if not parts.netloc:
        raise ValueError(f"{url!r} names no bucket (expected s3://bucket/prefix/)")
    options: dict[str, Any] = dict(parse_qsl(parts.query))
    lease_text = options.pop("lease_s", DEFAULT_LEASE_S)
    try:
        lease_s = float(lease_text)
    except ValueError:
        raise ValueError(f"lease_s={lease_text!r} is not a number of seconds") from None
    if not 1 <= lease_s <= 3600:
        raise ValueError(f"lease_s={lease_s:g} must be between 1 and 3600 seconds")
    from lakeroutine_s3.settings import S3Settings

    settings = S3Settings.from_options(options)  # ValueError names a bad option
    prefix = parts.path.strip("/")
    root = f"{prefix}/{state_key(routine)}/" if prefix else f"{state_key(routine)}/"
    return S3StateStore(parts.netloc, root, routine, settings, lease_s)


class S3StateStore:
    """State of one routine below ``s3://bucket/root``; nothing is sent until first used."""

    def __init__(self, bucket: str, root: str, routine: str, settings: Any, lease_s: float) -> None:
        self.bucket = bucket
        self.root = root
        self.routine = routine
        self.where = f"s3://{bucket}/{root}"
        self._settings = settings
        self._lease_s = lease_s
        self._objects: StateObjects | None = None
        self._values: dict[str, tuple[dict[str, Any], str | None]] = {}
        self._records: dict[tuple[str, str], S3Records] = {}
        self._lock: LeaseLock | None = None
        self._mutex = threading.RLock()

    @property
    def objects(self) -> StateObjects:
        with self._mutex:
            if self._objects is None:
                from lakeroutine.storage.base import StorageError

                from lakeroutine_s3.client import S3Client

                try:
                    client = S3Client(self._settings)
                except StorageError as exc:
                    raise StateError(f"state {self.where}: {exc}") from None
                self._objects = StateObjects(client, self.bucket, self.routine)
                self._objects.guard = self.run_lock().check  # no write once the lock is lost
                self._objects.confirm = self.run_lock().verify
            return self._objects

    # -- values ---------------------------------------------------------------------------

    def _values_key(self, scope: str) -> str:
        return f"{self.root}values/{_digest(scope)}.json"

    def _read_values(self, scope: str) -> tuple[dict[str, Any], str | None]:
        key = self._values_key(scope)
        data, etag = self.objects.get(key)
        if data is None:
            return {}, None
        if not isinstance(data, dict) or not isinstance(data.get("values"), dict):
            raise corrupt(f"object {self.objects.url(key)}", "no values", self.routine)
        return data["values"], etag

    def get_values(self, scope: str) -> dict[str, Any]:
        with self._mutex:
            if scope not in self._values:
                self._values[scope] = self._read_values(scope)
            return dict(self._values[scope][0])

    def _change(self, scope: str, name: str, value: Any, remove: bool = False) -> None:
        """Read-modify-write of one scope's values, made safe by IfMatch / IfNoneMatch."""
        key = self._values_key(scope)
        with self._mutex:
            for _attempt in range(ATTEMPTS):
                values, etag = self._values.get(scope) or self._read_values(scope)
                new = dict(values)
                if remove:
                    if name not in new:
                        self._values[scope] = (values, etag)
                        return
                    del new[name]
                else:
                    new[name] = value
                body = {"scope": scope, "values": new}
                try:
                    if etag is None:
                        etag = self.objects.put_new(key, body)
                    else:
                        etag = self.objects.replace(key, body, etag)
                except Conflict:
                    self._values.pop(scope, None)  # changed elsewhere: read it again
                    continue
                self._values[scope] = (new, etag)
                return
        raise StateError(f"state {self.objects.url(key)} keeps changing under this run")

    def set_value(self, scope: str, name: str, value: Any) -> None:
        self._change(scope, name, value)

    def delete_value(self, scope: str, name: str) -> None:
        self._change(scope, name, None, remove=True)

    def clear_values(self, scope: str) -> None:
        key = self._values_key(scope)
        with self._mutex:
            for _attempt in range(ATTEMPTS):
                _values, etag = self._values.get(scope) or self._read_values(scope)
                if etag is None:
                    self._values[scope] = ({}, None)
                    return
                try:
                    self.objects.delete_if(key, etag)
                except Conflict:
                    self._values.pop(scope, None)
                    continue
                self._values[scope] = ({}, None)
                return
        raise StateError(f"state {self.objects.url(key)} keeps changing under this run")

    def value_scopes(self) -> list[str]:
        scopes = []
        for key in self.objects.keys(f"{self.root}values/"):
            data, _etag = self.objects.get(key)
            if isinstance(data, dict) and isinstance(data.get("scope"), str):
                scopes.append(data["scope"])
            elif data is not None:
                raise corrupt(f"object {self.objects.url(key)}", "no scope", self.routine)
        return sorted(scopes)

    # -- records, lock, lifecycle -----------------------------------------------------------

    def records(self, table: str, scope: str, after: S3Records | None = None) -> S3Records:
        with self._mutex:
            found = self._records.get((table, scope))
            if found is None:
                prefix = f"{self.root}records/{_digest(table, scope)}/"
                found = S3Records(self.objects, prefix, table, scope)
                self._records[(table, scope)] = found
            if after is not None and after is not found:
                found.after = after
            return found

    def record_scopes(self) -> list[tuple[str, str]]:
        found = []
        for folder in self.objects.keys(f"{self.root}records/", delimiter="/"):
            key = next(iter(self.objects.keys(folder)), None)
            if key is None:
                continue
            data, _etag = self.objects.get(key)
            if not (isinstance(data, dict) and "table" in data and "scope" in data):
                raise corrupt(f"object {self.objects.url(key)}", "not a record log", self.routine)
            found.append((str(data["table"]), str(data["scope"])))
        return sorted(found)

    def run_lock(self) -> LeaseLock:
        with self._mutex:
            if self._lock is None:
                self._lock = LeaseLock(S3Lease(self), self._lease_s, self.routine)
            return self._lock

    def checkpoint(self) -> None:
        """Write every buffered record change (one segment per table at most), once the
        lease is proven still this run's (a run that lost it writes nothing more)."""
        with self._mutex:
            tables = list(self._records.values())
            lock = self._lock
        if lock is not None and any(table.pending() for table in tables):
            lock.verify()
        for table in tables:
            table.checkpoint()

    def forget(self, scope_prefix: str | None = None) -> list[str]:
        """Delete the values of scopes starting with ``scope_prefix``; with None, every
        object of this routine's state but the run lock (even corrupt ones)."""
        with self._mutex:
            self._values.clear()
            self._records.clear()
        if scope_prefix is not None:
            scopes = [s for s in self.value_scopes() if s.startswith(scope_prefix)]
            for scope in scopes:
                self.clear_values(scope)
            return scopes
        lock_key = f"{self.root}lock.json"
        keys = [k for k in self.objects.keys(self.root) if k != lock_key]
        if self._lock_unreadable():  # the way out its own error names
            keys.append(lock_key)
        self.objects.delete_many(keys)
        return [self.objects.url(k) for k in keys]

    def _lock_unreadable(self) -> bool:
        """Whether ``lock.json`` exists but cannot be read as a lease (a readable one, even
        a live run's, is never removed by ``forget``: only its holder or its expiry end it)."""
        try:
            self.run_lock().holder()
        except StateError:
            return True
        return False

    def close(self) -> None:
        """Nothing is held open (buffered changes are written by :meth:`checkpoint`)."""


class S3Lease:
    """The lease record ``lock.json``, changed only with IfNoneMatch / IfMatch."""

    def __init__(self, store: S3StateStore) -> None:
        self.store = store
        self.key = f"{store.root}lock.json"
        self.where = f"s3://{store.bucket}/{self.key}"

    def read(self) -> tuple[dict[str, Any] | None, str | None]:
        try:
            data, etag = self.store.objects.get(self.key)
        except CorruptState:
            data, etag = "not JSON", None
        if data is not None and not isinstance(data, dict):
            detail = data if isinstance(data, str) else "not a lease"
            raise StateError(
                f"run lock {self.where} is unreadable ({detail}); if no run is live, clear it "
                f"with: lakeroutine state clear {self.store.routine} --force"
            )
        return data, etag

    def create(self, record: dict[str, Any]) -> str:
        return self.store.objects.put_new(self.key, record, guarded=False)

    def replace(self, record: dict[str, Any], token: str) -> str:
        return self.store.objects.replace(self.key, record, token, guarded=False)

    def remove(self, token: str) -> None:
        self.store.objects.delete_if(self.key, token, guarded=False)
