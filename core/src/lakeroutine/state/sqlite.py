"""The default state store: one SQLite file per routine in a local folder.

SQLite survives a SIGKILL at any instant and keeps memory flat however many records a run
keeps. Values, output claims (``add``, ``add_many``) and every ``durable`` change are
written when the call returns (WAL, autocommit); other record puts are buffered and written
in one transaction per :data:`BATCH` (and before any other change to the table, any scan, and
at :meth:`checkpoint`), as the Records contract allows: a put lost to a kill is only redone.
The run lock is a ``flock`` on a file beside it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lakeroutine.state.base import BATCH, StateError, TaskState, corrupt, dumps
from lakeroutine.state.lock import FileLock

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS task_state ("
    " scope TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (scope, name))",
    "CREATE TABLE IF NOT EXISTS records ("
    " tbl TEXT NOT NULL, scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " status TEXT, PRIMARY KEY (tbl, scope, key))",
)


def safe_name(name: str) -> str:
    """A routine name as a file name (lossy: see :func:`state_key`)."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return cleaned or "routine"


def state_key(name: str) -> str:
    """A routine name as a state file or key name, one per name: a name that is already safe
    keeps it (existing state stays readable); any other gets ``~`` and a digest of the name
    (``ingest eu`` -> ``ingest_eu~3f2a...``), which no safe name holds, so routines differing
    only in punctuation never share state or a lock."""
    cleaned = safe_name(name)
    if cleaned == name and name.strip("."):
        return name
    return f"{cleaned}~{hashlib.sha256(name.encode()).hexdigest()[:16]}"


def open_local(url: str, *, routine: str) -> SqliteStateStore:
    """The factory of the built-in ``file`` scheme: ``url`` is a local folder."""
    folder = Path(url[len("file://") :] if url.startswith("file://") else url).expanduser()
    return SqliteStateStore(folder / f"{state_key(routine)}.sqlite", routine=routine)


class SqliteStateStore:
    """One SQLite database, opened on first use, safe to share between threads."""

    def __init__(self, path: Path, routine: str = "ROUTINE") -> None:
        self.path = path
        self.where = str(path)
        self.routine = routine
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._run_lock = FileLock(path.with_suffix(".lock"), routine)
        self._tables: dict[tuple[str, str], SqliteRecords] = {}

    # -- plumbing ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                for statement in SCHEMA:
                    conn.execute(statement)
            except sqlite3.DatabaseError as exc:
                raise self._error(exc) from None
            except OSError as exc:
                raise StateError(f"cannot use the state folder {self.path.parent}: {exc}") from None
            self._conn = conn
        return self._conn

    def _error(self, exc: Exception) -> StateError:
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and ("readonly" in text or "open" in text):
            return StateError(f"cannot write the state file {self.path}: {exc}")
        if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
            return StateError(f"the state file {self.path} is busy: {exc}")
        return corrupt(f"file {self.path}", str(exc), self.routine)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection inside BEGIN/COMMIT, held under the store's lock."""
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise self._error(exc) from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; a broken file is a one-line StateError."""
        with self._lock:
            try:
                return self._connect().execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise self._error(exc) from None

    def close(self) -> None:
        """Write buffered record changes, then close the file."""
        with self._lock:
            if self._conn is not None:
                self.checkpoint()
                self._conn.close()
                self._conn = None

    def scope(self, scope: str) -> TaskState:
        """The :class:`TaskState` of ``scope`` (for tests and tools)."""
        return TaskState(self, scope)

    # -- values -------------------------------------------------------------------------------

    def get_values(self, scope: str) -> dict[str, Any]:
        rows = self.execute("SELECT name, value FROM task_state WHERE scope = ?", (scope,))
        return {name: json.loads(value) for name, value in rows}

    def set_value(self, scope: str, name: str, value: Any) -> None:
        self.execute(
            "INSERT OR REPLACE INTO task_state (scope, name, value) VALUES (?, ?, ?)",
            (scope, name, dumps(value)),
        )

    def delete_value(self, scope: str, name: str) -> None:
        self.execute("DELETE FROM task_state WHERE scope = ? AND name = ?", (scope, name))

    def clear_values(self, scope: str) -> None:
        self.execute("DELETE FROM task_state WHERE scope = ?", (scope,))

    def value_scopes(self) -> list[str]:
        if not self.path.exists():
            return []
        return [row[0] for row in self.execute("SELECT DISTINCT scope FROM task_state ORDER BY 1")]

    # -- records, lock, lifecycle -----------------------------------------------------------

    def records(self, table: str, scope: str, after: object = None) -> SqliteRecords:
        """A record table (one object per table and scope, so its buffer is shared); claims
        are written at once and puts after them, so ``after`` is kept by construction."""
        with self._lock:
            found = self._tables.get((table, scope))
            if found is None:
                found = self._tables[(table, scope)] = SqliteRecords(self, table, scope)
            return found

    def record_scopes(self) -> list[tuple[str, str]]:
        if not self.path.exists():
            return []
        rows = self.execute("SELECT DISTINCT tbl, scope FROM records ORDER BY 1, 2")
        return [(tbl, scope) for tbl, scope in rows]

    def run_lock(self) -> FileLock:
        return self._run_lock

    def checkpoint(self) -> None:
        """Write every table's buffered puts."""
        with self._lock:
            tables = list(self._tables.values())
        for table in tables:
            table.flush()

    def forget(self, scope_prefix: str | None = None) -> list[str]:
        """Delete the values of scopes starting with ``scope_prefix``, or the whole file
        (even a corrupt one) when None. Returns what was forgotten."""
        if scope_prefix is None:
            with self._lock:
                for table in self._tables.values():
                    table._pending = {}  # their buffered puts go with the file
            self.close()
            gone = []
            for suffix in ("", "-wal", "-shm"):
                path = Path(str(self.path) + suffix)
                if path.exists():
                    path.unlink()
                    gone.append(str(path))
            return gone
        pattern = scope_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        scopes = [
            row[0]
            for row in self.execute(
                "SELECT DISTINCT scope FROM task_state WHERE scope LIKE ? ESCAPE '\\'",
                (pattern + "%",),
            )
        ]
        for scope in scopes:
            self.clear_values(scope)
        return scopes


class _SomeTaken(Exception):
    """Some keys of an ``add_many`` had records already (its first try is rolled back)."""


class SqliteRecords:
    """Records of one table and scope, in the ``records`` table; puts are buffered (see the
    module doc), everything else is written at once."""

    def __init__(self, store: SqliteStateStore, table: str, scope: str) -> None:
        self.store = store
        self.table = table
        self.scope = scope
        self._pending: dict[str, tuple[str, str | None]] = {}  # key -> (JSON, status)

    def get(self, key: str) -> dict[str, Any] | None:
        with self.store._lock:
            pending = self._pending.get(key)
            if pending is not None:
                return dict(json.loads(pending[0]))
            rows = self.store.execute(
                "SELECT value FROM records WHERE tbl = ? AND scope = ? AND key = ?",
                (self.table, self.scope, key),
            )
        return json.loads(rows[0][0]) if rows else None

    def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The records of those ``keys`` that have one (a statement per 500 keys)."""
        found: dict[str, dict[str, Any]] = {}
        with self.store._lock:
            wanted = []
            for key in keys:
                pending = self._pending.get(key)
                if pending is not None:
                    found[key] = json.loads(pending[0])
                else:
                    wanted.append(key)
            for rows in self._select(wanted):
                for key, value in rows:
                    found[key] = json.loads(value)
        return found

    def _select(self, keys: list[str]) -> Iterator[list[tuple[Any, ...]]]:
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            yield self.store.execute(
                "SELECT key, value FROM records WHERE tbl = ? AND scope = ? AND key IN "
                f"({','.join('?' * len(part))})",
                (self.table, self.scope, *part),
            )

    def put(self, key: str, record: dict[str, Any], *, durable: bool = False) -> None:
        text = dumps(record)  # a secret is refused now, not when the batch is written
        with self.store._lock:
            self._pending[key] = (text, record.get("status"))
            if durable or len(self._pending) >= BATCH:
                self.flush()

    def add(self, key: str, record: dict[str, Any]) -> dict[str, Any] | None:
        """Write ``record`` if ``key`` has none (one statement) and return None; else
        return the record it has."""
        with self.store._lock:
            self.flush()
            inserted = self.store.execute(
                "INSERT OR IGNORE INTO records (tbl, scope, key, value, status)"
                " VALUES (?, ?, ?, ?, ?) RETURNING value",
                (self.table, self.scope, key, dumps(record), record.get("status")),
            )
            if inserted:
                return None
            existing = self.get(key)
            return self.add(key, record) if existing is None else existing

    def add_many(self, records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Write each record whose key has none, durably, in one transaction; returns the
        records the other keys already had (those are left as they were)."""
        rows = {key: dumps(record) for key, record in records.items()}
        values = [
            (self.table, self.scope, key, text, records[key].get("status"))
            for key, text in rows.items()
        ]
        with self.store._lock:
            self.flush()
            try:  # the usual case, every key new: written without reading first
                with self.store.transaction() as conn:
                    changes = conn.total_changes
                    conn.executemany(
                        "INSERT OR IGNORE INTO records (tbl, scope, key, value, status)"
                        " VALUES (?, ?, ?, ?, ?)",
                        values,
                    )
                    if conn.total_changes - changes != len(values):
                        raise _SomeTaken  # rolled back: read the owners, then write
                return {}
            except _SomeTaken:
                pass
            with self.store.transaction() as conn:
                existing = self.get_many(list(rows))
                conn.executemany(
                    "INSERT INTO records (tbl, scope, key, value, status) VALUES (?, ?, ?, ?, ?)",
                    [row for row in values if row[2] not in existing],
                )
        return existing

    def update(self, keys: Iterable[str], fields: dict[str, Any], *, durable: bool = False) -> None:
        """Set ``fields`` in the existing records of ``keys`` (one transaction)."""
        patch = dumps(fields)
        status = fields.get("status")
        rows = [(patch, status, self.table, self.scope, key) for key in keys]
        if not rows:
            return
        with self.store._lock:
            self.flush()
            with self.store.transaction() as conn:
                conn.executemany(
                    "UPDATE records SET value = json_patch(value, ?),"
                    " status = COALESCE(?, status) WHERE tbl = ? AND scope = ? AND key = ?",
                    rows,
                )

    def delete(self, keys: Iterable[str], *, durable: bool = False) -> None:
        rows = [(self.table, self.scope, key) for key in keys]
        if not rows:
            return
        with self.store._lock:
            self.flush()
            with self.store.transaction() as conn:
                conn.executemany(
                    "DELETE FROM records WHERE tbl = ? AND scope = ? AND key = ?", rows
                )

    def scan(self, batch: int = BATCH) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every record in key order, read in batches (memory stays flat)."""
        self.flush()
        last = ""
        while True:
            rows = self.store.execute(
                "SELECT key, value FROM records WHERE tbl = ? AND scope = ? AND key > ?"
                " ORDER BY key LIMIT ?",
                (self.table, self.scope, last, batch),
            )
            if not rows:
                return
            for key, value in rows:
                yield key, json.loads(value)
            last = rows[-1][0]

    def count(self) -> int:
        self.flush()
        rows = self.store.execute(
            "SELECT COUNT(*) FROM records WHERE tbl = ? AND scope = ?", (self.table, self.scope)
        )
        return int(rows[0][0])

    def count_by(self, field: str) -> dict[str, int]:
        if field != "status":
            counts: dict[str, int] = {}
            for _key, record in self.scan():
                value = str(record.get(field))
                counts[value] = counts.get(value, 0) + 1
            return counts
        self.flush()
        rows = self.store.execute(
            "SELECT status, COUNT(*) FROM records WHERE tbl = ? AND scope = ? GROUP BY status",
            (self.table, self.scope),
        )
        return {str(status): int(n) for status, n in rows}

    def flush(self) -> None:
        """Write the buffered puts in one transaction."""
        with self.store._lock:
            if not self._pending:
                return
            rows = [
                (self.table, self.scope, key, text, status)
                for key, (text, status) in self._pending.items()
            ]
            with self.store.transaction() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO records (tbl, scope, key, value, status)"
                    " VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
            self._pending = {}
