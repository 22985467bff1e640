"""``SCHEME://BUCKET/key`` URLs of an object store (a GCS bucket, an Azure container):
parsing, joining and the canonical form the overlap checks compare, written once for every
storage plugin whose URLs have that shape."""

from __future__ import annotations

from typing import NamedTuple

from lakeroutine.storage.base import StorageError


class BucketLocation(NamedTuple):
    """A bucket (or container) and a key (or key prefix, without a leading slash)."""

    scheme: str
    bucket: str
    key: str

    @property
    def prefix(self) -> str:
        """The key as a folder prefix: ``a/b/`` (or ``""`` for the whole bucket)."""
        key = self.key.strip("/")
        return f"{key}/" if key else ""

    def url(self, key: str) -> str:
        """The URL of ``key`` in this bucket."""
        return f"{self.scheme}://{self.bucket}/{key}"


class BucketUrls:
    """The URLs of one scheme; ``noun`` names the bucket in errors (``container``)."""

    def __init__(self, scheme: str, noun: str = "bucket") -> None:
        self.scheme = scheme
        self.noun = noun

    def parse(self, url: str) -> BucketLocation:
        """Split a URL; one of another scheme or without a bucket is a StorageError."""
        head = f"{self.scheme}://"
        if not url.startswith(head):
            article = "an" if self.scheme[0] in "aeiou" else "a"
            raise StorageError(f"{url!r} is not {article} {head} URL")
        bucket, _, key = url[len(head) :].partition("/")
        if not bucket:
            raise StorageError(
                f"{url!r} has no {self.noun} name (expected {head}{self.noun.upper()}/prefix)"
            )
        return BucketLocation(self.scheme, bucket, key)

    def join(self, base: str, relpath: str) -> str:
        """The URL of ``relpath`` below the folder ``base``."""
        location = self.parse(base)
        return location.url(location.prefix + relpath.lstrip("/"))

    def canonical(self, url: str) -> str:
        """``SCHEME://bucket/prefix/``: the location as one comparable text, ending in ``/``."""
        location = self.parse(url)
        return location.url(location.prefix)
