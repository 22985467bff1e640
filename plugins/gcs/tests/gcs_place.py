"""A fake-gcs-server bucket as a place of the storage conformance kit: GcsPlace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gcs_proxy import deny_reads
from lakeroutine.testing.conformance.storage import Place


class GcsPlace(Place):
    """Objects of a bucket on fake-gcs-server, written and read with google-cloud-storage."""

    label = "gcs"
    scheme = "gs"

    def __init__(self, bucket: Any, via: Callable[..., Any] | None = None) -> None:
        self.bucket = bucket  # the tests' Bucket helper
        self.via = via  # the ``gcs_via`` fixture: a proxy lakeroutine then goes through
        self.unreadable: set[tuple[str, str]] = set()

    def url(self, folder: str) -> str:
        return f"gs://{self.bucket.name}/{folder}".rstrip("/") + "/"

    def put(self, folder: str, name: str | bytes, body: bytes) -> bool:
        if isinstance(name, bytes):
            return False  # object names are UTF-8
        key = f"{folder}/{name}" if folder else name
        try:
            self.bucket.put(key, body)
        except Exception:
            return False  # a name the service refuses
        return self.bucket.bucket.get_blob(key) is not None

    def files(self, folder: str) -> dict[str, bytes]:
        return self.bucket.objects(f"{folder}/" if folder else "")

    def names(self, folder: str) -> list[str]:
        return self.bucket.keys(f"{folder}/" if folder else "")

    def everything(self) -> dict[str, bytes]:
        return self.bucket.objects()

    def aliases(self, folder: str) -> list[str]:
        return [f"gs://{self.bucket.name}/{folder}"]

    def root_url(self) -> str:
        return f"gs://{self.bucket.name}/"

    def put_without_hash(self, folder: str, name: str, body: bytes) -> bool:
        """A composed object: GCS gives it a CRC32C but no MD5."""
        key = f"{folder}/{name}"
        half = len(body) // 2
        parts = [
            self.bucket.put(f"{key}.part{n}", chunk)
            for n, chunk in enumerate((body[:half], body[half:]))
        ]
        target = self.bucket.bucket.blob(key)
        target.compose(parts)
        for part in parts:
            part.delete()
        return self.bucket.bucket.get_blob(key).md5_hash is None

    def make_unreadable(self, folder: str, name: str) -> bool:
        """Reads of that object refused 403 by a proxy in front of the emulator (which
        cannot refuse anything); the place itself still reads it directly."""
        if self.via is None:
            return False
        if not self.unreadable:
            self.via(deny=deny_reads(self.unreadable))
        self.unreadable.add((self.bucket.name, f"{folder}/{name}"))
        return True
