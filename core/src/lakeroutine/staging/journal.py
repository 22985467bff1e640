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
ARCHIVING = "archiving"  # a second-choice archive URL was chosen (the first was taken)


@dataclass(frozen=True)
class Entry:
    relpath: str
    source: FileInfo
    outputs: list[str]
    status: str
    archive_url: str | None


class StagingJournal:
    """Journal rows of one staging block (``scope``: the block and its locations)."""

    def __init__(self, store: StateStore, scope: str) -> None:
        self.store = store
        self.scope = scope
        with store.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS staging_journal ("
                " scope TEXT NOT NULL, relpath TEXT NOT NULL, url TEXT NOT NULL,"
                " size INTEGER NOT NULL, mtime INTEGER, etag TEXT, outputs TEXT NOT NULL,"
                " status TEXT NOT NULL, archive_url TEXT, PRIMARY KEY (scope, relpath))"
            )

    def get(self, relpath: str) -> Entry | None:
        rows = self.store.execute(
            "SELECT relpath, url, size, mtime, etag, outputs, status, archive_url"
            " FROM staging_journal WHERE scope = ? AND relpath = ?",
            (self.scope, relpath),
        )
        return _entry(rows[0]) if rows else None

    def record_staged(self, source: FileInfo, outputs: list[str]) -> None:
        self.store.execute(
            "INSERT OR REPLACE INTO staging_journal"
            " (scope, relpath, url, size, mtime, etag, outputs, status, archive_url)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                self.scope,
                source.relpath,
                source.url,
                source.size,
                source.mtime,
                source.etag,
                json.dumps(outputs),
                STAGED,
            ),
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

    def entries(self, batch: int = 1000) -> Iterator[Entry]:
        """Every entry, in relpath order, read in batches (memory stays flat)."""
        last = ""
        while True:
            rows = self.store.execute(
                "SELECT relpath, url, size, mtime, etag, outputs, status, archive_url"
                " FROM staging_journal WHERE scope = ? AND relpath > ?"
                " ORDER BY relpath LIMIT ?",
                (self.scope, last, batch),
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
    relpath, url, size, mtime, etag, outputs, status, archive_url = row
    return Entry(
        relpath, FileInfo(url, relpath, size, mtime, etag), json.loads(outputs), status, archive_url
    )
