"""A fake-gcs-server bucket as a place of the storage conformance kit: GcsPlace."""

from __future__ import annotations

from typing import Any

from lakeroutine.testing.conformance.storage import Place


class GcsPlace(Place):
    """Objects of a bucket on fake-gcs-server, written and read with google-cloud-storage."""

    label = "gcs"
    scheme = "gs"

    def __init__(self, bucket: Any) -> None:
        self.bucket = bucket  # the tests' Bucket helper

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
