"""S3 (moto) as a place of the storage conformance kit: S3Place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lakeroutine.testing.conformance.storage import Place
from s3_fault_proxy import deny_reads


class S3Place(Place):
    """Keys below ``s3://BUCKET/`` on moto: written straight into the emulator's backend
    (an HTTP client could normalise a name), read back over HTTP."""

    label = "s3"
    scheme = "s3"

    def __init__(self, bucket: Any, via: Callable[..., Any] | None = None) -> None:
        self.bucket = bucket
        self.via = via  # the ``proxy`` fixture: a proxy lakeroutine then goes through
        self.unreadable: set[tuple[str, str]] = set()
        self.endpoint: str | None = None

    def url(self, folder: str) -> str:
        return f"s3://{self.bucket.name}/{folder}".rstrip("/") + "/"

    def put(self, folder: str, name: str | bytes, body: bytes) -> bool:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        if isinstance(name, bytes):
            return False  # S3 keys are UTF-8
        key = f"{folder}/{name}" if folder else name
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
        keys = backend.buckets[self.bucket.name].keys
        for old in keys.getlist(key, []):
            # moto closes a replaced object's buffer at once, under a listing or a GET still
            # reading it (S3 serves that read): keep the old version readable
            old.dispose = lambda garbage=False: None
        backend.put_object(self.bucket.name, key, body)
        return True

    def files(self, folder: str) -> dict[str, bytes]:
        return self.bucket.stored(f"{folder}/" if folder else "")

    def everything(self) -> dict[str, bytes]:
        return self.bucket.stored()

    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"check_absent_before_copy": True}  # moto ignores it
        if self.endpoint:
            options["endpoint_url"] = self.endpoint
        return options

    def aliases(self, folder: str) -> list[str]:
        bare = f"{self.bucket.name}/{folder}"
        return [f"s3://{bare}", f"s3a://{bare}/", f"s3a://{bare}"]

    def root_url(self) -> str:
        return f"s3://{self.bucket.name}/"

    def put_without_hash(self, folder: str, name: str, body: bytes) -> bool:
        self.bucket.put_multipart(f"{folder}/{name}", body)  # its ETag is not its MD5
        return True

    def make_unreadable(self, folder: str, name: str) -> bool:
        """Reads of that object refused 403 by a proxy in front of moto (which cannot
        refuse anything); the place itself still reads it from moto's backend."""
        if self.via is None:
            return False
        if self.endpoint is None:
            self.endpoint = self.via(deny=deny_reads(self.unreadable)).url
        self.unreadable.add((self.bucket.name, f"{folder}/{name}"))
        return True
