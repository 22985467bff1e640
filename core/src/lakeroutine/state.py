"""Durable run state in one SQLite file per routine, so killed or retried runs can resume.

Executors save what they must find again (a query id, which files were staged) here before
they wait or move anything. SQLite survives a SIGKILL at any instant and keeps memory flat
however many entries a run records.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class StateStore:
    """One SQLite database, opened on first use, safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS task_state ("
                " scope TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,"
                " PRIMARY KEY (scope, name))"
            )
            self._conn = conn
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection inside BEGIN/COMMIT, held under the store's lock."""
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connect().execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def scope(self, scope: str) -> TaskState:
        return TaskState(self, scope)


class TaskState:
    """Key/value state of one task (or executor) in a routine, kept across runs."""

    def __init__(self, store: StateStore, scope: str) -> None:
        self.store = store
        self.scope = scope

    def get(self, name: str, default: Any = None) -> Any:
        rows = self.store.execute(
            "SELECT value FROM task_state WHERE scope = ? AND name = ?", (self.scope, name)
        )
        return json.loads(rows[0][0]) if rows else default

    def set(self, name: str, value: Any) -> None:
        """Save ``value`` (JSON-able) durably before acting on it."""
        self.store.execute(
            "INSERT OR REPLACE INTO task_state (scope, name, value) VALUES (?, ?, ?)",
            (self.scope, name, json.dumps(value)),
        )

    def delete(self, name: str) -> None:
        self.store.execute(
            "DELETE FROM task_state WHERE scope = ? AND name = ?", (self.scope, name)
        )

    def clear(self) -> None:
        self.store.execute("DELETE FROM task_state WHERE scope = ?", (self.scope,))

    def items(self) -> dict[str, Any]:
        rows = self.store.execute(
            "SELECT name, value FROM task_state WHERE scope = ?", (self.scope,)
        )
        return {name: json.loads(value) for name, value in rows}
