"""Moving bytes: streamed single requests for small objects, concurrent parts for large ones.

- upload: one PutObject streamed from the file, or a multipart upload whose parts are read
  from the file one chunk at a time (memory: chunk size x concurrency).
- download: ranged GETs streamed to the file; the first answer tells the size, the rest of a
  large object comes in concurrent ranges pinned to the first answer's ETag.
- copy: server-side UploadPartCopy of byte ranges, pinned to the source's ETag.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lakeroutine_s3 import etags
from lakeroutine_s3.client import error_code, is_precondition_failed

log = logging.getLogger("lakeroutine.s3")
T = TypeVar("T")
READ_BLOCK = 1024 * 1024
MiB = 1024 * 1024
MAX_PARTS = 10_000  # S3's limit per multipart upload
STREAM_ATTEMPTS = 5  # reading a body can fail after botocore's own retries are over


def quoted(etag: str) -> str:
    """An ETag as S3 conditions want it (in double quotes)."""
    return etag if etag.startswith('"') else f'"{etag}"'


def unquoted(etag: str | None) -> str | None:
    """An ETag as lakeroutine compares it (no quotes), or None."""
    return etag.strip('"') if etag else None


def _ranges(size: int, part: int) -> list[tuple[int, int]]:
    """Inclusive byte ranges covering ``size`` bytes in parts of ``part`` bytes."""
    return [(start, min(start + part, size) - 1) for start in range(0, size, part)]


def part_ranges(size: int, part: int) -> list[tuple[int, int]]:
    """Ranges of a multipart upload: ``part`` bytes each, or larger (whole MiB) when that
    would take more than S3's 10,000 parts."""
    if -(-size // part) > MAX_PARTS:
        part = -(-size // MAX_PARTS)
        part = -(-part // MiB) * MiB
    return _ranges(size, part)


def _run_parts(
    function: Callable[[int, tuple[int, int]], T], ranges: list[tuple[int, int]], workers: int
) -> list[T]:
    """``function(part_number, range)`` for every part, concurrently, results in part order."""
    if workers <= 1 or len(ranges) <= 1:
        return [function(i + 1, r) for i, r in enumerate(ranges)]
    with cf.ThreadPoolExecutor(min(workers, len(ranges)), "lakeroutine-s3-part") as pool:
        futures = [pool.submit(function, i + 1, r) for i, r in enumerate(ranges)]
        try:
            return [f.result() for f in futures]
        finally:
            for f in futures:
                f.cancel()


def _stream_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import (
        ConnectionClosedError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )

    return (
        ResponseStreamingError,
        IncompleteReadError,
        ReadTimeoutError,
        ConnectionClosedError,
        ConnectionError,
    )


def multipart(
    client: Any,
    bucket: str,
    key: str,
    parts: Callable[[str], list[dict[str, Any]]],
    *,
    overwrite: bool,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create a multipart upload, fill it with ``parts(upload_id)`` and complete it
    (``IfNoneMatch`` when not overwriting). Aborted on any failure. Returns the answer of
    CompleteMultipartUpload, or ``{}`` if a lost reply's retry found it already completed."""
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, **(extra or {}))["UploadId"]
    try:
        return _fill_and_complete(client, bucket, key, upload_id, parts, overwrite=overwrite)
    finally:
        _abort_leftovers(client, bucket, key)


def _abort_leftovers(client: Any, bucket: str, key: str) -> None:
    """Abort unfinished uploads to ``key`` once ours has ended: a CreateMultipartUpload whose
    reply was lost and that botocore retried, or one of a killed run, would otherwise keep
    its parts stored (and billed) for ever. Nothing else writes a staging or archive key."""
    try:
        answer = client.list_multipart_uploads(Bucket=bucket, Prefix=key)
    except Exception as exc:  # e.g. no s3:ListBucketMultipartUploads permission
        log.debug("cannot list unfinished uploads of s3://%s/%s: %s", bucket, key, exc)
        return
    for upload in answer.get("Uploads", ()):
        if upload.get("Key") == key:
            _abort(client, bucket, key, upload["UploadId"])


def _abort(client: Any, bucket: str, key: str, upload_id: str) -> None:
    """Abort one multipart upload, best effort (a lifecycle rule cleans up the rest)."""
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except Exception as exc:
        log.warning(
            "could not abort multipart upload of s3://%s/%s: %s",
            bucket,
            key,
            error_code(exc) or type(exc).__name__,
        )


def _fill_and_complete(
    client: Any,
    bucket: str,
    key: str,
    upload_id: str,
    parts: Callable[[str], list[dict[str, Any]]],
    *,
    overwrite: bool,
) -> dict[str, Any]:
    """Upload the parts and complete the upload; abort it on any failure."""
    try:
        done = parts(upload_id)
        condition = {} if overwrite else {"IfNoneMatch": "*"}
        try:
            return client.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": done},
                **condition,
            )
        except Exception as exc:
            # The first attempt completed it and only the reply was lost: S3 has no such
            # upload any more, and the object is there (the caller verifies its size).
            if error_code(exc) == "NoSuchUpload":
                return {}
            raise
    except BaseException:
        _abort(client, bucket, key, upload_id)
        raise


def upload_parts(
    client: Any,
    path: Path,
    bucket: str,
    key: str,
    size: int,
    chunk: int,
    workers: int,
    *,
    overwrite: bool,
) -> dict[str, Any]:
    """Upload ``path`` as a multipart upload of ``chunk``-byte parts."""

    def parts(upload_id: str) -> list[dict[str, Any]]:
        def one(number: int, span: tuple[int, int]) -> dict[str, Any]:
            with open(path, "rb") as handle:
                handle.seek(span[0])
                body = handle.read(span[1] - span[0] + 1)
            md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
            answer = client.upload_part(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ContentMD5=etags.content_md5(md5),
            )
            etags.check_written(answer, md5, f"s3://{bucket}/{key} (part {number})")
            return {"PartNumber": number, "ETag": answer["ETag"]}

        return _run_parts(one, part_ranges(size, chunk), workers)

    return multipart(client, bucket, key, parts, overwrite=overwrite)


def copy_parts(
    client: Any,
    source: dict[str, str],
    etag: str | None,
    bucket: str,
    key: str,
    ranges: list[tuple[int, int]],
    workers: int,
    *,
    overwrite: bool,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Server-side copy of ``source``, one UploadPartCopy per inclusive byte range."""
    pin = {"CopySourceIfMatch": quoted(etag)} if etag else {}

    def parts(upload_id: str) -> list[dict[str, Any]]:
        def one(number: int, span: tuple[int, int]) -> dict[str, Any]:
            answer = client.upload_part_copy(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource=source,
                CopySourceRange=f"bytes={span[0]}-{span[1]}",
                **pin,
            )
            return {"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]}

        return _run_parts(one, ranges, workers)

    return multipart(client, bucket, key, parts, overwrite=overwrite, extra=extra)


def download(client: Any, bucket: str, key: str, path: Path, chunk: int, workers: int) -> int:
    """Stream ``s3://bucket/key`` into ``path``; returns the number of bytes written."""
    errors = _stream_errors()
    for attempt in range(STREAM_ATTEMPTS):
        first = _get(client, bucket, key, f"bytes=0-{chunk - 1}", None)
        if first is None:  # an empty object: a range of it does not exist
            path.write_bytes(b"")
            return 0
        total = _total_size(first)
        etag = first.get("ETag")
        try:
            with open(path, "wb") as handle:
                if _write_body(first["Body"], handle) == min(total, chunk):
                    break
        except errors:
            if attempt == STREAM_ATTEMPTS - 1:
                raise
    else:
        raise OSError(f"s3://{bucket}/{key}: the first range came back short")
    if total > chunk:
        with open(path, "r+b") as handle:
            handle.truncate(total)

        def rest(_number: int, span: tuple[int, int]) -> None:
            _download_range(client, bucket, key, path, span, etag)

        _run_parts(rest, _ranges(total, chunk)[1:], workers)
    etags.check_downloaded(first, path, f"s3://{bucket}/{key}")
    return os.path.getsize(path)


def _download_range(
    client: Any, bucket: str, key: str, path: Path, span: tuple[int, int], etag: str | None
) -> None:
    errors = _stream_errors()
    for attempt in range(STREAM_ATTEMPTS):
        answer = _get(client, bucket, key, f"bytes={span[0]}-{span[1]}", etag)
        assert answer is not None
        try:
            with open(path, "r+b") as handle:
                handle.seek(span[0])
                written = _write_body(answer["Body"], handle)
            if written == span[1] - span[0] + 1:
                return
        except errors:
            if attempt == STREAM_ATTEMPTS - 1:
                raise
    raise OSError(f"s3://{bucket}/{key}: range {span[0]}-{span[1]} came back short")


def _get(client: Any, bucket: str, key: str, byte_range: str, etag: str | None) -> Any:
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "Range": byte_range}
    if etag:
        kwargs["IfMatch"] = etag
    try:
        return client.get_object(**kwargs)
    except Exception as exc:
        if error_code(exc) in ("InvalidRange", "416"):
            return None
        if is_precondition_failed(exc):
            raise OSError(f"s3://{bucket}/{key} changed while it was being downloaded") from None
        raise


def _total_size(answer: dict[str, Any]) -> int:
    content_range = answer.get("ContentRange")  # "bytes 0-99/1234"
    if content_range and "/" in content_range:
        return int(content_range.rsplit("/", 1)[1])
    return int(answer["ContentLength"])


def _write_body(body: Any, handle: Any) -> int:
    written = 0
    try:
        for block in iter(lambda: body.read(READ_BLOCK), b""):
            handle.write(block)
            written += len(block)
    finally:
        body.close()
    return written
