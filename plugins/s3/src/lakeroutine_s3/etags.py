"""The ETag S3 gives an unencrypted object uploaded from a local file, computed locally.

Used after a refused no-overwrite upload (412, or a HEAD that found the key): if the object
there holds exactly the file's bytes, it is this very upload (its reply was lost, or a killed
run wrote it), not an earlier file to keep apart.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from lakeroutine.storage.base import StorageError

BLOCK = 1024 * 1024


def single_part_etag(path: Path) -> str:
    """The MD5 of the file: the ETag of a one-request PUT."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def multipart_etag(path: Path, part_size: int) -> str:
    """``md5(md5(part1) + md5(part2) ...)-N``: the ETag of a multipart upload in parts of
    ``part_size`` bytes."""
    digests = []
    with open(path, "rb") as handle:
        while True:
            part = hashlib.md5(usedforsecurity=False)
            left = part_size
            while left:
                block = handle.read(min(BLOCK, left))
                if not block:
                    break
                part.update(block)
                left -= len(block)
            if left == part_size:
                break
            digests.append(part.digest())
    combined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
    return f"{combined}-{len(digests)}"


def content_md5(hex_md5: str) -> str:
    """The ``Content-MD5`` header of a body whose MD5 is ``hex_md5``: S3 refuses the
    request (BadDigest) if the bytes it received do not match."""
    return base64.b64encode(bytes.fromhex(hex_md5)).decode()


def encrypted_with_a_key(answer: dict[str, Any]) -> bool:
    """KMS- and customer-key-encrypted objects have ETags that are not their MD5."""
    encryption = str(answer.get("ServerSideEncryption") or "")
    return encryption.startswith("aws:kms") or bool(answer.get("SSECustomerAlgorithm"))


def is_md5(etag: str | None) -> bool:
    """An ETag that is the MD5 of the bytes (one PUT or CopyObject, unencrypted or SSE-S3)."""
    text = etag or ""
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def check_downloaded(answer: dict[str, Any], path: Path, url: str) -> None:
    """Raise ``OSError`` if a downloaded file is not the object GET answered for, where its
    ETag is the MD5 of its bytes (else the caller's size check is all there is)."""
    etag = (answer.get("ETag") or "").strip('"')
    if encrypted_with_a_key(answer) or not is_md5(etag):
        return
    got = single_part_etag(path)
    if got != etag:
        raise OSError(f"{url}: downloaded bytes do not match its ETag {etag} (MD5 {got})")


def check_written(answer: dict[str, Any], hex_md5: str, url: str) -> None:
    """Raise if a PUT or UploadPart answer's ETag is not the MD5 of the bytes sent: what
    arrived is not what was read. KMS- and customer-key-encrypted objects have other ETags
    (S3 itself checked their ``Content-MD5``)."""
    if encrypted_with_a_key(answer):
        return
    etag = (answer.get("ETag") or "").strip('"')
    if etag != hex_md5:
        raise StorageError(
            f"{url}: S3 stored different bytes than were sent (ETag {etag or 'missing'}, "
            f"MD5 of the file {hex_md5}); not verified"
        )
