"""Small JSON objects in a bucket, written only conditionally: the S3 state store's I/O.

``put_new`` creates (``IfNoneMatch='*'``), ``replace`` and ``delete_if`` act only on the
version read (``IfMatch=etag``); :class:`lakeroutine.state.lock.Conflict` when the condition
fails. Every other failure is a one-line :class:`StateError` without credentials in it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from lakeroutine.aws import error_code
from lakeroutine.state.base import StateError, corrupt, dumps
from lakeroutine.state.lock import Conflict

from lakeroutine_s3.client import S3Client, is_precondition_failed, location_error

DELETE_BATCH = 1000  # keys per DeleteObjects


class StateObjects:
    """JSON objects below ``s3://bucket/`` read and written with conditions."""

    def __init__(self, client: S3Client, bucket: str, routine: str) -> None:
        self.s3 = client
        self.bucket = bucket
        self.routine = routine
        # Called before every write but the lease's own: raises once the run lost its lock.
        self.guard: Callable[[], None] | None = None
        # Reads the lease: True if this run holds it (proven now), False if it holds none;
        # raises once lost. Asked when another process wrote where this run meant to.
        self.confirm: Callable[[], bool] | None = None

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _fail(self, exc: Exception, key: str) -> StateError:
        if error_code(exc) == "NoSuchKey":  # the object is missing, not the bucket
            return StateError(f"state {self.url(key)}: no such object")
        message = str(location_error(exc, self.bucket, self.s3))
        return StateError(f"state {self.url(key)}: {message}")

    def _guard(self, guarded: bool) -> None:
        if guarded and self.guard is not None:
            self.guard()

    def get(self, key: str) -> tuple[Any, str | None]:
        """The object's JSON and ETag, or (None, None) if there is no such object."""
        try:
            answer = self.s3.client.get_object(Bucket=self.bucket, Key=key)
            body = answer["Body"].read()
        except Exception as exc:
            if error_code(exc) == "NoSuchKey":
                return None, None
            raise self._fail(exc, key) from None
        try:
            return json.loads(body), answer["ETag"]
        except ValueError as exc:
            raise corrupt(f"object {self.url(key)}", f"not JSON: {exc}", self.routine) from None

    def _put(self, key: str, data: Any, guarded: bool, **condition: str) -> str:
        self._guard(guarded)
        body = dumps(data, separators=(",", ":")).encode()
        try:
            answer = self.s3.client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", **condition
            )
        except Exception as exc:
            code = error_code(exc)
            if is_precondition_failed(exc) or code == "ConditionalRequestConflict":
                raise Conflict(key) from None
            if code == "NoSuchKey" and "IfMatch" in condition:  # deleted: not that version
                raise Conflict(key) from None
            raise self._fail(exc, key) from None
        return str(answer["ETag"])

    def put_new(self, key: str, data: Any, *, guarded: bool = True) -> str:
        """Create ``key``; Conflict if it exists."""
        return self._put(key, data, guarded, IfNoneMatch="*")

    def replace(self, key: str, data: Any, etag: str, *, guarded: bool = True) -> str:
        """Replace ``key`` if it is still version ``etag``; Conflict otherwise (deleted too)."""
        return self._put(key, data, guarded, IfMatch=etag)

    def delete_if(self, key: str, etag: str, *, guarded: bool = True) -> None:
        """Delete ``key`` if it is still version ``etag``; Conflict otherwise (gone is fine)."""
        self._guard(guarded)
        try:
            self.s3.client.delete_object(Bucket=self.bucket, Key=key, IfMatch=etag)
        except Exception as exc:
            if error_code(exc) == "NoSuchKey":
                return
            if is_precondition_failed(exc):
                raise Conflict(key) from None
            raise self._fail(exc, key) from None

    def keys(self, prefix: str, delimiter: str = "") -> Iterator[str]:
        """Keys (or, with ``delimiter``, common prefixes) below ``prefix``, in key order."""
        token: str | None = None
        while True:
            request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
            if delimiter:
                request["Delimiter"] = delimiter
            if token:
                request["ContinuationToken"] = token
            try:
                page = self.s3.client.list_objects_v2(**request)
            except Exception as exc:
                raise self._fail(exc, prefix) from None
            for item in page.get("Contents", ()):
                yield item["Key"]
            for item in page.get("CommonPrefixes", ()):
                yield item["Prefix"]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def delete_many(self, keys: list[str]) -> None:
        """Delete immutable objects (log segments, old snapshots); missing is fine."""
        self._guard(bool(keys))
        for start in range(0, len(keys), DELETE_BATCH):
            chunk = keys[start : start + DELETE_BATCH]
            try:
                answer = self.s3.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True},
                )
            except Exception as exc:
                raise self._fail(exc, chunk[0]) from None
            errors = answer.get("Errors") or []
            if errors:
                first = errors[0]
                raise StateError(
                    f"state {self.url(first.get('Key', ''))}: could not delete "
                    f"({first.get('Code')}: {first.get('Message')})"
                )
