"""The staging journal: which landing files a staging block has staged, archived or deleted.

Kept in the routine's state database so that a run killed at any instant can be run again:
``transfer`` skips what is staged, ``post_staging`` finishes what a killed run started and
touches only what was staged and verified.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from lakeroutine.state import StateStore
from lakeroutine.storage.base import FileInfo

STAGED = "staged"  # outputs published and verified; the source is still in landing
CLAIMING = "claiming"  # post_staging is holding the source to archive or remove it
ARCHIVING = "archiving"  # a second-choice archive URL was chosen (the first was taken)
IN_POST_STAGING = (CLAIMING, ARCHIVING)
_COLUMNS = "relpath, url, size, mtime, etag, outputs, status, archive_url, version"


@dataclass(frozen=True)
class Entry:
    relpath: str
    source: FileInfo
    outputs: list[str]
    status: str
    archive_url: str | None


class StagingJournal:
    """Journal rows of one staging block (``scope``: the block and its locations), and the
    owners of the staging location's names (``outputs_scope``: the staging location)."""

    def __init__(self, store: StateStore, scope: str, outputs_scope: str = "") -> None:
        self.store = store
        self.scope = scope
        self.outputs_scope = outputs_scope
        with store.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS staging_journal ("
                " scope TEXT NOT NULL, relpath TEXT NOT NULL, url TEXT NOT NULL,"
                " size INTEGER NOT NULL, mtime INTEGER, etag TEXT, outputs TEXT NOT NULL,"
                " status TEXT NOT NULL, archive_url TEXT, version TEXT,"
                " PRIMARY KEY (scope, relpath))"
            )
            columns = {row[1] for row in conn.execute("PRAGMA table_info(staging_journal)")}
            if "version" not in columns:  # a journal written before versions were kept
                conn.execute("ALTER TABLE staging_journal ADD COLUMN version TEXT")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS staging_outputs ("
                " scope TEXT NOT NULL, name TEXT NOT NULL, source TEXT NOT NULL,"
                " PRIMARY KEY (scope, name))"
            )

    def get(self, relpath: str) -> Entry | None:
        rows = self.store.execute(
            f"SELECT {_COLUMNS} FROM staging_journal WHERE scope = ? AND relpath = ?",
            (self.scope, relpath),
        )
        return _entry(rows[0]) if rows else None

    def record_staged(self, source: FileInfo, outputs: list[str]) -> None:
        self.store.execute(
            "INSERT OR REPLACE INTO staging_journal"
            " (scope, relpath, url, size, mtime, etag, outputs, status, archive_url, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
            (
                self.scope,
                source.relpath,
                source.url,
                source.size,
                source.mtime,
                source.etag,
                json.dumps(outputs),
                STAGED,
                source.version,
            ),
        )

    def claim_outputs(self, source: str, names: list[str]) -> tuple[set[str], dict[str, str]]:
        """Make ``source`` the owner of each staging name, atomically and durably, before
        anything is written under it. Returns the names ``source`` already owned (a new
        version of the same landing file may replace them) and, if any name belongs to
        another source, those owners: then nothing is claimed."""
        with self.store.transaction() as conn:
            owners: dict[str, str] = {}
            for name in names:
                row = conn.execute(
                    "SELECT source FROM staging_outputs WHERE scope = ? AND name = ?",
                    (self.outputs_scope, name),
                ).fetchone()
                if row is not None:
                    owners[name] = row[0]
            taken = {name: owner for name, owner in owners.items() if owner != source}
            if taken:
                return set(), taken
            conn.executemany(
                "INSERT INTO staging_outputs (scope, name, source) VALUES (?, ?, ?)",
                [(self.outputs_scope, name, source) for name in names if name not in owners],
            )
        return set(owners), {}

    def release_outputs(self, source: str, names: list[str]) -> None:
        """Forget ``source``'s claim on names it never wrote (a write that was refused)."""
        with self.store.transaction() as conn:
            conn.executemany(
                "DELETE FROM staging_outputs WHERE scope = ? AND name = ? AND source = ?",
                [(self.outputs_scope, name, source) for name in names],
            )

    def output_source(self, name: str) -> str | None:
        """Which landing file (or notebook block) wrote staging name ``name``."""
        rows = self.store.execute(
            "SELECT source FROM staging_outputs WHERE scope = ? AND name = ?",
            (self.outputs_scope, name),
        )
        return rows[0][0] if rows else None

    def set_statuses(self, relpaths: list[str], status: str) -> None:
        """Mark many entries at once (one transaction): before a chunk is claimed."""
        with self.store.transaction() as conn:
            conn.executemany(
                "UPDATE staging_journal SET status = ? WHERE scope = ? AND relpath = ?",
                [(status, self.scope, relpath) for relpath in relpaths],
            )

    def set_status(self, relpath: str, status: str, archive_url: str | None = None) -> None:
        self.store.execute(
            "UPDATE staging_journal SET status = ?, archive_url = COALESCE(?, archive_url)"
            " WHERE scope = ? AND relpath = ?",
            (status, archive_url, self.scope, relpath),
        )

    def remove(self, relpaths: list[str]) -> None:
        with self.store.transaction() as conn:
            conn.executemany(
                "DELETE FROM staging_journal WHERE scope = ? AND relpath = ?",
                [(self.scope, relpath) for relpath in relpaths],
            )

    def entries(self, batch: int = 1000, statuses: tuple[str, ...] = ()) -> Iterator[Entry]:
        """Every entry (or those in ``statuses``), in relpath order, read in batches
        (memory stays flat)."""
        last = ""
        where = ""
        if statuses:
            where = f" AND status IN ({', '.join('?' for _ in statuses)})"
        while True:
            rows = self.store.execute(
                f"SELECT {_COLUMNS} FROM staging_journal WHERE scope = ? AND relpath > ?"
                f"{where} ORDER BY relpath LIMIT ?",
                (self.scope, last, *statuses, batch),
            )
            if not rows:
                return
            for row in rows:
                yield _entry(row)
            last = rows[-1][0]

    def count(self) -> int:
        rows = self.store.execute(
            "SELECT COUNT(*) FROM staging_journal WHERE scope = ?", (self.scope,)
        )
        return int(rows[0][0])


def _entry(row: tuple) -> Entry:  # type: ignore[type-arg]
    relpath, url, size, mtime, etag, outputs, status, archive_url, version = row
    source = FileInfo(url, relpath, size, mtime, etag, version)
    return Entry(relpath, source, json.loads(outputs), status, archive_url)
