"""Moving bytes to and from GCS: one request for small objects, chunks for large ones.

- upload: one multipart upload (up to ``multipart_threshold``) or a resumable upload in
  ``chunk_size`` chunks; the bytes are counted and hashed while they are read, and a source
  that holds more or fewer bytes than expected is refused before the upload completes.
- download: one GET, or concurrent ranged GETs pinned to the object's generation; checked
  against the object's MD5 (or CRC32C) afterwards.
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import hashlib
from pathlib import Path
from typing import Any, BinaryIO

from lakeroutine.storage.base import SourceChanged

BLOCK = 1024 * 1024


def b64_to_hex(value: str | None) -> str | None:
    """A base64 hash as GCS gives it (``md5Hash``, ``crc32c``), in hex; None stays None."""
    return base64.b64decode(value).hex() if value else None


def content_token(blob: Any) -> str | None:
    """The content token of an object: its MD5 in hex (as S3 ETags of one PUT are), or
    ``crc32c:<hex>`` for composite objects, which have no MD5."""
    md5 = b64_to_hex(getattr(blob, "md5_hash", None))
    if md5:
        return md5
    crc = b64_to_hex(getattr(blob, "crc32c", None))
    return f"crc32c:{crc}" if crc else None


def file_token(path: Path) -> str:
    """The MD5 of a local file in hex (what :func:`content_token` gives after uploading it)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def file_crc32c(path: Path) -> str:
    """The CRC32C of a local file in hex (as GCS gives it for composite objects)."""
    import google_crc32c

    checksum = google_crc32c.Checksum()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            checksum.update(block)
    return checksum.digest().hex()


class CountingReader:
    """A file read for upload: hashed as read, and refusing (``SourceChanged``) to end with
    other than ``expected`` bytes, before the last chunk is sent. Seekable (a resumable
    upload rewinds to what the server has); bytes are hashed once, in order."""

    def __init__(self, handle: BinaryIO, expected: int, url: str) -> None:
        self.handle = handle
        self.expected = expected
        self.url = url
        self.position = 0
        self.hashed = 0
        self.md5 = hashlib.md5(usedforsecurity=False)

    def read(self, size: int = -1) -> bytes:
        left = self.expected - self.position
        want = left if size is None or size < 0 else min(size, left)
        data = self.handle.read(want)
        if len(data) < want:
            raise SourceChanged(
                f"{self.url}: the source shrank to {self.position + len(data)} bytes while it "
                f"was sent (expected {self.expected}); nothing published"
            )
        if self.position == self.hashed:
            self.md5.update(data)
            self.hashed += len(data)
        self.position += len(data)
        if self.position == self.expected and self.handle.read(1):
            raise SourceChanged(
                f"{self.url}: the source grew past {self.expected} bytes while it was sent; "
                "nothing published"
            )
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        target = {0: offset, 1: self.position + offset, 2: self.expected + offset}[whence]
        self.handle.seek(target)
        self.position = target
        return target

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return True


def read_exactly(path: Path, expected: int | None, url: str) -> bytes:
    """A small file's bytes; ``SourceChanged`` if there are not exactly ``expected``."""
    with open(path, "rb") as handle:
        data = handle.read() if expected is None else handle.read(expected + 1)
    if expected is not None and len(data) != expected:
        raise SourceChanged(
            f"{url}: the source holds {'more' if len(data) > expected else len(data)} "
            f"bytes, not the {expected} listed; nothing published"
        )
    return data


def download_ranges(
    blob: Any, path: Path, size: int, chunk: int, workers: int, retry: Any, timeout: float
) -> None:
    """Fill ``path`` with ``blob`` (a generation-pinned handle) in concurrent ranges."""
    with open(path, "wb") as handle:
        handle.truncate(size)

    def one(start: int) -> None:
        end = min(start + chunk, size) - 1
        with open(path, "r+b") as handle:
            handle.seek(start)
            blob.download_to_file(
                handle,
                start=start,
                end=end,
                checksum=None,
                retry=retry,
                timeout=timeout,
                if_generation_match=blob.generation,
            )
            if handle.tell() != end + 1:
                raise OSError(f"range {start}-{end} came back short")

    starts = list(range(0, size, chunk))
    with cf.ThreadPoolExecutor(min(workers, len(starts)), "lakeroutine-gcs-part") as pool:
        for future in [pool.submit(one, s) for s in starts]:
            future.result()
