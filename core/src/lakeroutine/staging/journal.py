"""The staging journal: which landing files a staging block has staged, archived or deleted,
and which landing file owns each name in the staging location.

Kept as records in the routine's state store (any store: local SQLite, S3...) so that a run
killed at any instant can be run again: ``transfer`` skips what is staged, ``post_staging``
finishes what a killed run started and touches only what was staged and verified.

A store may buffer changes (written in batches and at the end of each task): a staged
entry lost to a kill is only staged again. Output claims are durable before any output is
written under their names (a rerun after a kill recognises what its predecessor wrote), and
the journal's table is written only after them (``after=``). Status changes that come
before acting (``claiming``, a second-choice archive name) are durable before the action.

Nothing stored names a location: entries hold names relative to landing and staging, claims
a digest of the landing location, so a secret in a location (``${env:LAKE_TOKEN}``) never
reaches the state, and what is read back is exactly what was written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from lakeroutine.state.base import StateError, StateStore
from lakeroutine.storage.base import FileInfo

TABLE = "staging"
OUTPUTS_TABLE = "staging_outputs"
STAGED = "staged"  # outputs published and verified; the source is still in landing
CLAIMING = "claiming"  # post_staging is holding the source to archive or remove it
ARCHIVING = "archiving"  # a second-choice archive URL was chosen (the first was taken)
IN_POST_STAGING = (CLAIMING, ARCHIVING)


@dataclass(frozen=True)
class Entry:
    relpath: str
    source: FileInfo
    outputs: list[str]
    status: str
    archive_url: str | None


class StagingJournal:
    """Journal entries of one staging block (``scope``: the block and its locations), and the
    owners of the staging location's names (``outputs_scope``: the staging location)."""

    def __init__(
        self,
        store: StateStore,
        scope: str,
        outputs_scope: str = "",
        source_url: Callable[[str], str] = str,
        output_url: Callable[[str], str] = str,
        archive_url: Callable[[str], str] = str,
    ) -> None:
        self.store = store
        self.scope = scope
        self.outputs_scope = outputs_scope
        self.source_url = source_url  # a landing name -> its URL
        self.output_url = output_url  # a staging name -> its URL
        self.archive_url = archive_url  # an archive name -> its URL
        self.outputs = store.records(OUTPUTS_TABLE, outputs_scope)
        self.records = store.records(TABLE, scope, after=self.outputs)
        self._claims = threading.Lock()  # a claim checks then writes: one at a time

    def get(self, relpath: str) -> Entry | None:
        record = self.records.get(relpath)
        return None if record is None else self._entry(relpath, record)

    def get_many(self, relpaths: list[str]) -> dict[str, Entry]:
        """The entries of those ``relpaths`` that have one, read at once where the store
        can (a statement per few hundred files instead of one each)."""
        get_many = getattr(self.records, "get_many", None)
        if get_many is None:  # a store without it: one read each
            found = {relpath: self.records.get(relpath) for relpath in relpaths}
        else:
            found = get_many(relpaths)
        return {k: self._entry(k, record) for k, record in found.items() if record is not None}

    def record_staged(self, source: FileInfo, outputs: list[str]) -> None:
        """Journal ``source`` as staged to ``outputs`` (staging names, not URLs)."""
        record = {
            "size": source.size,
            "mtime": source.mtime,
            "etag": source.etag,
            "version": source.version,
            "outputs": outputs,
            "status": STAGED,
            "archive_url": None,
        }
        self.records.put(source.relpath, record)

    def claim_outputs(
        self, source: str, names: list[str], also: tuple[str, ...] = ()
    ) -> tuple[set[str], dict[str, str]]:
        """Make ``source`` the owner of each staging name, durably, before anything is
        written under it. Returns the names ``source`` already owned (a new version of the
        same landing file may replace them) and, if any name belongs to another source,
        those owners: then nothing is claimed. ``also``: other spellings of ``source``
        (claims written before sources were keyed by digest)."""
        mine = (source, *also)
        with self._claims:
            if len(names) == 1:  # the common case: one check-and-write
                [name] = names
                existing = self.outputs.add(name, {"source": source})
                if existing is not None:
                    owner = str(existing.get("source"))
                    return ({name}, {}) if owner in mine else (set(), {name: owner})
                new = True
            else:
                owners: dict[str, str] = {}
                for name in names:
                    record = self.outputs.get(name)
                    if record is not None:
                        owners[name] = str(record.get("source"))
                taken = {name: owner for name, owner in owners.items() if owner not in mine}
                if taken:
                    return set(), taken
                new = False
                for name in names:
                    if name not in owners:
                        self.outputs.put(name, {"source": source})
                        new = True
        if new:  # outside the lock: claims of several threads share one write
            self.outputs.flush()
        return (set() if len(names) == 1 else set(owners)), {}

    def claim_names(
        self, claims: list[tuple[str, str, tuple[str, ...]]]
    ) -> dict[str, tuple[bool, str | None]]:
        """Claim many staging names, one each for its source (``(source, name, also)``,
        as :meth:`claim_outputs`), durably in one write before any of them is written.
        Returns per name whether its source owned it already, and the other owner of a
        name taken (that name is not claimed)."""
        wanted = {name: {"source": source} for source, name, _ in claims}
        with self._claims:
            add_many = getattr(self.outputs, "add_many", None)
            if add_many is not None:
                existing = add_many(wanted)
            else:  # a store without it: one check-and-write each, one flush
                existing = {}
                for name, record in wanted.items():
                    found = self.outputs.add(name, record)
                    if found is not None:
                        existing[name] = found
        self.outputs.flush()  # outside the lock: several threads' claims share one write
        result: dict[str, tuple[bool, str | None]] = {}
        for source, name, also in claims:
            owner = existing.get(name, {}).get("source")
            if owner is None:
                result[name] = (False, None)
            else:
                mine = str(owner) in (source, *also)
                result[name] = (mine, None if mine else str(owner))
        return result

    def release_outputs(self, source: str, names: list[str], also: tuple[str, ...] = ()) -> None:
        """Forget ``source``'s claim on names it never wrote (a write that was refused)."""
        with self._claims:
            owners = (source, *also)
            mine = [n for n in names if (self.outputs.get(n) or {}).get("source") in owners]
            self.outputs.delete(mine)

    def output_source(self, name: str) -> str | None:
        """Which landing file (or notebook block) wrote staging name ``name``."""
        record = self.outputs.get(name)
        return None if record is None else str(record.get("source"))

    def set_statuses(self, relpaths: list[str], status: str) -> None:
        """Mark many entries at once, durably: before a chunk is claimed."""
        self.records.update(relpaths, {"status": status}, durable=True)

    def set_status(self, relpath: str, status: str, archive_name: str | None = None) -> None:
        """Change one entry's status (and archive name, relative to the archive), durably."""
        record = self.records.get(relpath)
        if record is None:
            return
        record = {**record, "status": status}
        if archive_name is not None:
            record["archive_url"] = archive_name
        self.records.put(relpath, record, durable=True)

    def remove(self, relpaths: list[str]) -> None:
        self.records.delete(relpaths)

    def entries(self, batch: int = 1000, statuses: tuple[str, ...] = ()) -> Iterator[Entry]:
        """Every entry (or those in ``statuses``), in relpath order, read in batches
        (memory stays flat)."""
        for relpath, record in self.records.scan(batch):
            if not statuses or record.get("status") in statuses:
                yield self._entry(relpath, record)

    def count(self) -> int:
        return self.records.count()

    def _entry(self, relpath: str, record: dict[str, Any]) -> Entry:
        try:
            source = FileInfo(
                self.source_url(relpath),  # never a stored URL: it may have been masked
                relpath,
                record["size"],
                record.get("mtime"),
                record.get("etag"),
                record.get("version"),
            )
            outputs = [
                name if _is_url(name) else self.output_url(name) for name in record["outputs"]
            ]
            archived = record["archive_url"]
            if archived is not None and not _is_url(archived):
                archived = self.archive_url(archived)
            return Entry(relpath, source, outputs, record["status"], archived)
        except (KeyError, TypeError) as exc:
            raise StateError(
                f"staging journal entry {relpath!r} in {self.store.where} is unreadable "
                f"(missing {exc}); forget it with: lakeroutine state clear ROUTINE"
            ) from None


def _is_url(name: str) -> bool:
    """An output stored as a whole URL or path (entries written before names were kept)."""
    return name.startswith("/") or "://" in name
