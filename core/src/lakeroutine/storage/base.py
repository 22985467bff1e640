"""The storage protocol: what the StagingExecutor needs from a place that holds files.

A backend serves one URL scheme (local paths, ``s3://``...). URLs of a location are
directories: ``base`` ends without a slash internally and files are named by a POSIX
``relpath`` below it. Every write is atomic: a file appears at its final name only complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class FileInfo:
    """A file as listed or written: where it is, its size and, where the storage gives one,
    a content token (an S3 ETag) that changes when the content does."""

    url: str
    relpath: str
    size: int
    mtime: float | None = None
    etag: str | None = None

    def same_content_as(self, other: FileInfo) -> bool:
        """Sizes match and, where both have a content token, tokens match."""
        if self.size != other.size:
            return False
        if self.etag and other.etag:
            return self.etag == other.etag
        return True

    def same_version_as(self, other: FileInfo) -> bool:
        """The same file version: same size and the same etag, else the same mtime."""
        if self.size != other.size:
            return False
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
        Temporary files of unfinished writes are not listed."""

    def stat(self, url: str) -> FileInfo | None:
        """The file at ``url``, or None if there is none."""

    def download(self, url: str, local_path: Path) -> None:
        """Write the file's content to ``local_path`` (a new local file)."""

    def upload(self, local_path: Path, url: str, *, overwrite: bool = True) -> FileInfo:
        """Publish a local file at ``url`` atomically and return what was written.
        With ``overwrite=False`` an existing file is kept and ``FileExistsError`` raised."""

    def copy(self, source: FileInfo, url: str, *, overwrite: bool = True) -> FileInfo:
        """Copy ``source`` (a file of this storage) to ``url`` atomically; return the copy.
        With ``overwrite=False`` an existing file is kept and ``FileExistsError`` raised."""

    def delete_many(self, urls: Iterable[str]) -> None:
        """Delete files (in batches where the storage allows); missing files are no error."""

    def make_durable(self, urls: Iterable[str]) -> None:
        """Make sure written files survive a crash of the machine (no-op where every
        completed write already is)."""


class StorageError(Exception):
    """A location cannot be used: missing, not allowed, or misconfigured."""


def is_temporary_name(name: str) -> bool:
    """Names that in-progress atomic writes use; listings skip them."""
    return name.startswith(".") and ".lakeroutine-tmp" in name
