"""Parsing and joining ``gs://bucket/key`` URLs."""

from __future__ import annotations

from typing import NamedTuple

from lakeroutine.storage.base import StorageError


class GcsLocation(NamedTuple):
    """A bucket and an object name (or name prefix, without a leading slash)."""

    bucket: str
    key: str

    @property
    def prefix(self) -> str:
        """The key as a folder prefix: ``a/b/`` (or ``""`` for the whole bucket)."""
        key = self.key.strip("/")
        return f"{key}/" if key else ""

    def url(self, key: str) -> str:
        """The URL of ``key`` in this bucket."""
        return f"gs://{self.bucket}/{key}"


def parse(url: str) -> GcsLocation:
    """Split a ``gs://`` URL; a URL without a bucket is a :class:`StorageError`."""
    if not url.startswith("gs://"):
        raise StorageError(f"{url!r} is not a gs:// URL")
    bucket, _, key = url[len("gs://") :].partition("/")
    if not bucket:
        raise StorageError(f"{url!r} has no bucket name (expected gs://BUCKET/prefix)")
    return GcsLocation(bucket, key)


def join(base: str, relpath: str) -> str:
    """The URL of ``relpath`` below the folder ``base``."""
    location = parse(base)
    return location.url(location.prefix + relpath.lstrip("/"))


def canonical(url: str) -> str:
    """``gs://bucket/prefix/``: the location as one comparable text, ending in ``/``."""
    location = parse(url)
    return location.url(location.prefix)
