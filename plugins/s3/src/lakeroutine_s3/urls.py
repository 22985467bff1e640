"""Parsing and joining ``s3://bucket/key`` URLs."""

from __future__ import annotations

from typing import NamedTuple

from lakeroutine.storage.base import StorageError


class S3Location(NamedTuple):
    """A bucket and a key (or key prefix, without a leading slash); ``scheme`` is ``s3``
    or ``s3a`` (Hadoop's name for the same place), kept so URLs read as they were given."""

    bucket: str
    key: str
    scheme: str = "s3"

    @property
    def prefix(self) -> str:
        """The key as a folder prefix: ``a/b/`` (or ``""`` for the whole bucket)."""
        key = self.key.strip("/")
        return f"{key}/" if key else ""


def parse(url: str) -> S3Location:
    """Split an ``s3://`` URL; a URL without a bucket is a :class:`StorageError`."""
    if not url.startswith(("s3://", "s3a://")):
        raise StorageError(f"{url!r} is not an s3:// URL")
    scheme, rest = url.split("://", 1)
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise StorageError(f"{url!r} has no bucket name (expected s3://BUCKET/prefix)")
    return S3Location(bucket, key, scheme)


def join(base: str, relpath: str) -> str:
    """The URL of ``relpath`` below the folder ``base``."""
    location = parse(base)
    return f"{location.scheme}://{location.bucket}/{location.prefix}{relpath.lstrip('/')}"
