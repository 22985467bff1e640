"""Reading a local file for upload: counted and hashed as read, refused (``SourceChanged``)
if it holds other than the expected number of bytes, before the upload is committed."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

from lakeroutine.storage.base import SourceChanged

BLOCK = 1024 * 1024


def file_md5(path: Path) -> str:
    """The MD5 of a local file in hex."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


class ExactReader:
    """A stream of exactly ``expected`` bytes of ``handle`` (the SDK reads blocks from it in
    order, under its own lock), hashed as read; a source that ends early or holds more raises
    before the last block is handed over, so the block list is never committed."""

    def __init__(self, handle: BinaryIO, expected: int, url: str) -> None:
        self.handle = handle
        self.expected = expected
        self.url = url
        self.position = 0
        self.md5 = hashlib.md5(usedforsecurity=False)

    def read(self, size: int = -1) -> bytes:
        left = self.expected - self.position
        data = self.handle.read(left if size is None or size < 0 else min(size, left))
        self.position += len(data)
        self.md5.update(data)
        if self.position == self.expected and self.handle.read(1):
            raise SourceChanged(f"{self.url}: the source grew while it was sent; nothing published")
        if not data and left:
            raise SourceChanged(
                f"{self.url}: the source shrank while it was sent; nothing published"
            )
        return data

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return False


def read_exactly(path: Path, expected: int | None, url: str) -> bytes:
    """A small file's bytes; ``SourceChanged`` if there are not exactly ``expected``."""
    with open(path, "rb") as handle:
        data = handle.read() if expected is None else handle.read(expected + 1)
    if expected is not None and len(data) != expected:
        raise SourceChanged(
            f"{url}: the source holds other than the {expected} bytes listed; nothing published"
        )
    return data
