"""The storage protocol: what the StagingExecutor needs from a place that holds files.

A backend serves one URL scheme (local paths, ``s3://``...). URLs of a location are
directories: ``base`` ends without a slash internally and files are named by a POSIX
``relpath`` below it. Every write is atomic: a file appears at its final name only complete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class FileInfo:
    """A file as listed or written: where it is, its size and, where the storage gives one,
    a content token (an S3 ETag) that changes when the content does.

    ``version`` names this exact version of the file and changes when it is replaced (a
    local file's device, inode and mtime; an S3 ETag; a GCS generation): it is what removal
    checks against. ``is_link`` marks a symbolic link, listed but never followed."""

    url: str
    relpath: str
    size: int
    mtime: float | None = None
    etag: str | None = None
    version: str | None = None
    is_link: bool = False

    def same_content_as(self, other: FileInfo) -> bool:
        """Sizes match and, where both have a content token, tokens match."""
        if self.size != other.size:
            return False
        if self.etag and other.etag:
            return self.etag == other.etag
        return True

    def same_version_as(self, other: FileInfo) -> bool:
        """The same file version: same size and the same version token, else the same
        etag, else the same mtime."""
        if self.size != other.size:
            return False
        if self.version and other.version:
            return self.version == other.version
        if self.etag or other.etag:
            return self.etag == other.etag
        return self.mtime == other.mtime


@runtime_checkable
class Storage(Protocol):
    """A storage backend for one URL scheme."""

    scheme: str

    def join(self, base: str, relpath: str) -> str:
        """The URL of ``relpath`` below the location ``base``."""

    def check_location(self, base: str, *, write: bool) -> None:
        """Raise ``StorageError`` with a clear message if ``base`` cannot be used (no such
        bucket, no credentials, access denied). Called before anything is moved."""

    def list_files(self, base: str) -> Iterator[FileInfo]:
        """Every file below ``base``, recursively, streamed (never the whole list at once).
        Temporary files of unfinished writes are not listed; symbolic links are listed with
        ``is_link`` and not followed. Object stores list in ascending key order (as S3, GCS
        and Azure do), so a key that is also a folder prefix can be found. ``relpath`` is the
        raw name below ``base``: the core refuses names that are not safe to stage."""

    def stat(self, url: str) -> FileInfo | None:
        """The file at ``url``, or None if there is none."""

    def download(self, url: str, local_path: Path) -> None:
        """Write the file's content to ``local_path`` (a new local file)."""

    def upload(
        self,
        local_path: Path,
        url: str,
        *,
        overwrite: bool = True,
        expected_size: int | None = None,
    ) -> FileInfo:
        """Publish a local file at ``url`` atomically and return what was written.
        With ``overwrite=False`` an existing file is kept and ``FileExistsError`` raised
        (unless it already holds exactly these bytes). With ``expected_size``, nothing is
        published (``StorageError``) unless exactly that many bytes were sent."""

    def copy(self, source: FileInfo, url: str, *, overwrite: bool = True) -> FileInfo:
        """Copy exactly the listed version of ``source`` (a file of this storage) to ``url``
        atomically; return the copy. ``StorageError`` if the source changed since listed.
        With ``overwrite=False`` an existing file is kept and ``FileExistsError`` raised."""

    def delete_many(self, urls: Iterable[str]) -> None:
        """Delete files (in batches where the storage allows); missing files are no error."""

    def make_durable(self, urls: Iterable[str]) -> None:
        """Make sure written files survive a crash of the machine (no-op where every
        completed write already is)."""

    def canonical(self, url: str) -> str:
        """``url`` as one comparable text ending in ``/``: scheme aliases folded
        (``s3a://`` is ``s3://``), local symlinks resolved. Overlap checks compare these.
        No network."""

    def name_problem(self, base: str, relpath: str) -> str | None:
        """Why this storage cannot hold a file ``relpath`` below ``base`` (a segment or key
        too long...), else None. Unsafe names (``..``, empty segments...) are refused by
        the core before this is asked."""

    def claim(self, files: Sequence[FileInfo]) -> list[FileInfo | None]:
        """Hold each landing file for removal if it is still exactly the listed version,
        checked now; None where it changed or vanished (it is left as found). Filesystems
        rename it to a hidden claim name first, then compare (a replacement arriving later
        lands beside it); object stores with conditional deletes return it unchanged."""

    def claimed(self, info: FileInfo) -> FileInfo | None:
        """The file a killed run's claim left for ``info``, if any (filesystems)."""

    def remove_claimed(self, files: Sequence[FileInfo]) -> list[FileInfo]:
        """Remove claimed files, each only if it is still that version (a conditional
        delete: S3 ``ETag`` per key, GCS generation, Azure ``If-Match``). Return the files
        left in place because they changed. A file already gone counts as removed."""

    def release(self, files: Sequence[FileInfo]) -> None:
        """Give claimed files back, untouched: filesystems move each back to its name
        (never over a newer file); object stores have nothing to do."""


class ConditionalDeletes:
    """For object stores whose deletes can be made conditional on a version (S3 ``ETag``,
    GCS generation, Azure ``If-Match``): nothing is held before removal, so ``claim`` hands
    the listed files back as they are, no claim outlives a run, and nothing needs giving
    back. The store implements ``remove_claimed`` with its conditional delete."""

    def claim(self, files: Sequence[FileInfo]) -> list[FileInfo | None]:
        return list(files)

    def claimed(self, info: FileInfo) -> FileInfo | None:
        return None

    def release(self, files: Sequence[FileInfo]) -> None:
        pass


class StorageError(Exception):
    """A location cannot be used: missing, not allowed, or misconfigured."""


class SourceChanged(StorageError):
    """A file changed (was rewritten, grew or was replaced) since it was listed, so what
    was asked cannot be done to the listed version; nothing was written."""


def is_temporary_name(name: str) -> bool:
    """Names that in-progress atomic writes and claims use; listings skip them."""
    return name.startswith(".") and ".lakeroutine-tmp" in name


NAME_MAX = 255  # bytes in one path segment on most filesystems


def _fitting(name: str, suffix: str) -> str:
    """``.name<suffix>``, or, where that would pass ``NAME_MAX`` bytes, a digest of the
    name in its place (still one name per file, and hidden from listings)."""
    full = f".{name}{suffix}"
    if len(full.encode("utf-8", "surrogateescape")) <= NAME_MAX:
        return full
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:40]
    return f".{digest}{suffix}"


def temporary_name(name: str, token: str) -> str:
    """A private temporary name beside ``name``: unique per run and per file by ``token``."""
    return _fitting(name, f".{token}.lakeroutine-tmp")


CLAIM_SUFFIX = ".lakeroutine-tmp-claim"


def claim_name(name: str) -> str:
    """The hidden name a filesystem storage moves a landing file to while removing it:
    always the same for one name, so a run after a kill finds it."""
    return _fitting(name, CLAIM_SUFFIX)


class _Completed:
    """A storage written before the removal protocol, given its safe defaults: overlap by
    URL text, no extra name limits, removal checked just before deleting (not atomically:
    such a storage cannot promise that a file replaced at that instant survives)."""

    def __init__(self, storage: object) -> None:
        self._storage = storage

    def __getattr__(self, name: str) -> object:
        return getattr(self._storage, name)

    def canonical(self, url: str) -> str:
        return url.rstrip("/") + "/"

    def name_problem(self, base: str, relpath: str) -> str | None:
        return None

    def upload(
        self,
        local_path: Path,
        url: str,
        *,
        overwrite: bool = True,
        expected_size: int | None = None,
    ) -> FileInfo:
        return self._storage.upload(local_path, url, overwrite=overwrite)  # type: ignore[attr-defined]

    def claim(self, files: Sequence[FileInfo]) -> list[FileInfo | None]:
        held: list[FileInfo | None] = []
        for info in files:
            now = self._storage.stat(info.url)  # type: ignore[attr-defined]
            held.append(info if now is not None and now.same_version_as(info) else None)
        return held

    def claimed(self, info: FileInfo) -> FileInfo | None:
        return None

    def remove_claimed(self, files: Sequence[FileInfo]) -> list[FileInfo]:
        self._storage.delete_many([info.url for info in files])  # type: ignore[attr-defined]
        return []

    def release(self, files: Sequence[FileInfo]) -> None:
        pass


REMOVAL_PROTOCOL = ("canonical", "name_problem", "claim", "claimed", "remove_claimed", "release")


def completed(storage: Storage) -> Storage:
    """``storage`` itself, or wrapped with defaults if it predates the removal protocol."""
    if all(hasattr(storage, name) for name in REMOVAL_PROTOCOL):
        return storage
    return _Completed(storage)  # type: ignore[return-value]
