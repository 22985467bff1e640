"""A table of records kept on S3 as an append-only log with compaction.

Layout below the table's prefix (names sort by sequence number)::

    segment-000000000007.json   {"table", "scope", "seq", "changes": [[key, record|null]...]}
    snapshot-000000000012.json  {"table", "scope", "seq", "records": {key: record}}

Every object is created once with ``IfNoneMatch='*'`` and never changed: a writer that finds
its sequence number taken has lost a race (another live run) and stops, unless it proves the
lease its own (a read of the lease): then the other writer is the run it took over, writing
before its renewal told it the lease was gone, and its changes are read in. A compaction
(the only deletes) proves the lease first, so a run that lost it never deletes what its
successor wrote. A reader takes the newest snapshot and applies the segments after it in
order. Changes are buffered and written as one segment per :data:`BATCH` changes (and at each
checkpoint); after :data:`COMPACT_AFTER` segments the whole table is written as a snapshot
and the older objects are deleted. A kill between the two leaves only objects readers ignore.

The table is held in memory once read (one dict entry per record).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from lakeroutine.state.base import BATCH, StateError, corrupt
from lakeroutine.state.lock import Conflict

from lakeroutine_s3.state_objects import StateObjects

log = logging.getLogger("lakeroutine.state.s3")
COMPACT_AFTER = 10  # segments after a snapshot before the next one is written


def _seq(key: str, kind: str) -> int | None:
    name = key.rsplit("/", 1)[-1]
    if not (name.startswith(kind + "-") and name.endswith(".json")):
        return None
    digits = name[len(kind) + 1 : -len(".json")]
    return int(digits) if digits.isdigit() else None


class S3Records:
    """Records of one table and scope as a log below ``prefix`` (see the module doc)."""

    def __init__(self, objects: StateObjects, prefix: str, table: str, scope: str) -> None:
        self.objects = objects
        self.prefix = prefix
        self.table = table
        self.scope = scope
        self._index: dict[str, dict[str, Any]] | None = None
        self._pending: dict[str, dict[str, Any] | None] = {}
        self._next_seq = 1
        self._since_snapshot: list[str] = []  # segment keys after the newest snapshot
        self._obsolete: list[str] = []  # keys a newer snapshot made useless
        self._snapshot_key: str | None = None
        self._mutex = threading.RLock()
        self._written = threading.Condition(self._mutex)  # a segment was written (or failed)
        self._changes = 0  # changes buffered so far
        self._durable = 0  # of which written
        self._flushing = False  # a segment is being written (with the mutex let go)
        self._compacting = False
        self.after: S3Records | None = None  # written before this table (see Records)

    def _key(self, kind: str, seq: int) -> str:
        return f"{self.prefix}{kind}-{seq:012d}.json"

    def _load(self) -> dict[str, dict[str, Any]]:
        with self._mutex:
            if self._index is not None:
                return self._index
            segments: list[tuple[int, str]] = []
            snapshots: list[tuple[int, str]] = []
            for key in self.objects.keys(self.prefix):
                for kind, found in (("segment", segments), ("snapshot", snapshots)):
                    seq = _seq(key, kind)
                    if seq is not None:
                        found.append((seq, key))
            base = max(snapshots, default=(0, ""))
            index: dict[str, dict[str, Any]] = {}
            if base[0]:
                data = self._read(base[1])
                records = data.get("records")
                if not isinstance(records, dict):
                    raise corrupt(f"object {self.objects.url(base[1])}", "no records", self._hint)
                index = records
            for seq, key in sorted(segments):
                if seq <= base[0]:
                    continue
                changes = self._read(key).get("changes")
                if not isinstance(changes, list):
                    raise corrupt(f"object {self.objects.url(key)}", "no changes", self._hint)
                for change in changes:
                    if not (isinstance(change, list) and len(change) == 2):
                        raise corrupt(f"object {self.objects.url(key)}", "bad change", self._hint)
                    name, record = change
                    if record is None:
                        index.pop(name, None)
                    else:
                        index[name] = record
                self._since_snapshot.append(key)
            self._obsolete = [k for s, k in snapshots if s < base[0]]
            self._obsolete += [k for s, k in segments if s <= base[0]]
            self._snapshot_key = base[1] or None
            self._next_seq = max([s for s, _ in segments + snapshots], default=0) + 1
            self._index = index
            return index

    @property
    def _hint(self) -> str:
        return self.objects.routine

    def _read(self, key: str) -> dict[str, Any]:
        data, _etag = self.objects.get(key)
        if data is None:  # compacted away by another process between listing and reading
            raise StateError(
                f"state {self.objects.url(key)} vanished while being read: another process "
                "is changing this routine's state (is another run live?)"
            )
        if not isinstance(data, dict) or data.get("table") != self.table:
            raise corrupt(f"object {self.objects.url(key)}", "not a record log", self._hint)
        return data

    # -- the Records interface -----------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        record = self._load().get(key)
        return None if record is None else dict(record)

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The records of those ``keys`` that have one."""
        index = self._load()
        return {key: dict(index[key]) for key in keys if key in index}

    def put(self, key: str, record: dict[str, Any], *, durable: bool = False) -> None:
        with self._mutex:
            self._load()[key] = dict(record)
            self._pending[key] = dict(record)
            self._changes += 1
            if durable or len(self._pending) >= BATCH:
                self.flush()

    def add(self, key: str, record: dict[str, Any]) -> dict[str, Any] | None:
        """Put ``record`` (buffered) if ``key`` has none and return None; else return the
        record it has."""
        with self._mutex:
            existing = self._load().get(key)
            if existing is not None:
                return dict(existing)
            self.put(key, record)
            return None

    def add_many(self, records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Put (buffered) each record whose key has none; returns the records the other
        keys already had. The caller's :meth:`flush` makes the new ones durable: one segment
        for the whole batch."""
        with self._mutex:
            index = self._load()
            existing = {key: dict(index[key]) for key in records if key in index}
            for key, record in records.items():
                if key not in existing:
                    index[key] = dict(record)
                    self._pending[key] = dict(record)
                    self._changes += 1
            return existing

    def update(self, keys: Iterable[str], fields: dict[str, Any], *, durable: bool = False) -> None:
        """Set ``fields`` in the existing records of ``keys``."""
        with self._mutex:
            index = self._load()
            for key in keys:
                record = index.get(key)
                if record is not None:
                    changed = {**record, **fields}
                    index[key] = changed
                    self._pending[key] = changed
                    self._changes += 1
                if len(self._pending) >= BATCH:
                    self.flush()
            if durable:
                self.flush()

    def delete(self, keys: Iterable[str], *, durable: bool = False) -> None:
        with self._mutex:
            index = self._load()
            for key in keys:
                if index.pop(key, None) is not None or key in self._pending:
                    self._pending[key] = None
                    self._changes += 1
                if len(self._pending) >= BATCH:
                    self.flush()
            if durable:
                self.flush()

    def scan(self, batch: int = BATCH) -> Iterator[tuple[str, dict[str, Any]]]:
        index = self._load()
        for key in sorted(index):
            record = index.get(key)
            if record is not None:
                yield key, dict(record)

    def count(self) -> int:
        return len(self._load())

    def count_by(self, field: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in list(self._load().values()):
            value = str(record.get(field))
            counts[value] = counts.get(value, 0) + 1
        return counts

    def flush(self) -> None:
        """Make every change buffered before this call durable: one segment holds all the
        changes buffered meanwhile (a group commit), so threads that each need their
        change durable, such as output claims before their outputs are written, share
        requests; then compact if it is time."""
        if self.after is not None:
            self.after.flush()  # what this table's changes rely on goes first
        with self._written:
            target = self._changes
            while self._durable < target:
                if self._flushing:  # another thread is writing: wait, then look again
                    self._written.wait()
                    continue
                self._write_segment()

    def _write_segment(self) -> None:
        """Write the pending changes as the next segment; the mutex is let go meanwhile so
        other threads keep buffering (they join the next segment)."""
        pending, upto, seq = self._pending, self._changes, self._next_seq
        if not pending:
            self._durable = upto
            return
        self._pending, self._next_seq, self._flushing = {}, seq + 1, True
        key = self._key("segment", seq)
        body = {
            "table": self.table,
            "scope": self.scope,
            "seq": seq,
            "changes": [[k, v] for k, v in pending.items()],
        }
        try:
            self._mutex.release()
            try:
                created = self._create(key, body)
            finally:
                self._mutex.acquire()
            if not created:  # a late write of the run this one took over: read it in
                self._pending = {**pending, **self._pending}
                self._reload()
                return  # flush writes the changes again, at the next free number
        except BaseException:
            self._pending = {**pending, **self._pending}  # not written: still pending
            if self._next_seq == seq + 1:
                self._next_seq = seq
            raise
        finally:
            self._flushing = False
            self._written.notify_all()
        self._since_snapshot.append(key)
        self._durable = max(self._durable, upto)
        if len(self._since_snapshot) >= COMPACT_AFTER:
            self.compact()

    def pending(self) -> bool:
        """Whether changes wait to be written."""
        return bool(self._pending)

    def checkpoint(self) -> None:
        """Flush; an emptied table is compacted at once (its log shrinks to one object)."""
        with self._mutex:
            self.flush()
            if self._index is not None and not self._index and self._since_snapshot:
                self.compact()

    def compact(self) -> None:
        """Write the whole table as a snapshot, then delete what it replaces (once at a
        time: the flush it starts with may itself reach the compaction threshold)."""
        with self._mutex:
            if self._compacting:
                return
            self._compacting = True
            try:
                self._load()  # the sequence numbers the flush goes on from
                self.flush()
                index = self._load()  # after the flush: it may have read the log again
                seq = self._next_seq - 1
                if seq <= 0 or not self._since_snapshot:
                    return
                if self.objects.confirm is not None:
                    # Deleting is the one write a late writer must never make: a run that
                    # lost its lease unknowingly would delete what its successor wrote.
                    self.objects.confirm()
                key = self._key("snapshot", seq)
                body = {"table": self.table, "scope": self.scope, "seq": seq, "records": index}
                if not self._create(key, body):
                    self._reload()
                    return
                old = self._obsolete + self._since_snapshot
                if self._snapshot_key:
                    old.append(self._snapshot_key)
                self.objects.delete_many(old)
                self._snapshot_key = key
                self._obsolete = []
                self._since_snapshot = []
                self._next_seq = seq + 1
            finally:
                self._compacting = False

    def _create(self, key: str, body: dict[str, Any]) -> bool:
        """Create ``key``; False if another process created it first while this run's
        lease is proven its own: the run this one took over (same run id, a scheduler's
        retry), writing before its renewal told it the lease was gone. Its changes are
        real (files it archived or claimed), so the caller reads them in rather than stop."""
        try:
            self.objects.put_new(key, body)
        except Conflict:
            confirm = self.objects.confirm
            if confirm is not None and confirm():  # raises if this run lost its lease
                log.warning(
                    "state %s was written by the run this one took over; read again",
                    self.objects.url(key),
                )
                return False
            raise StateError(
                f"state {self.objects.url(key)} was written by another process: two runs "
                "are changing this routine's state at once (the run lock should prevent it)"
            ) from None
        return True

    def _reload(self) -> None:
        """Read the log again (another process wrote to it), the changes this process has
        not written yet on top."""
        self._index = None
        self._since_snapshot = []
        index = self._load()
        for key, record in self._pending.items():
            if record is None:
                index.pop(key, None)
            else:
                index[key] = dict(record)
