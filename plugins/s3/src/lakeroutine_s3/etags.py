"""The ETag S3 gives an unencrypted object uploaded from a local file, computed locally.

Used after a refused no-overwrite upload (412, or a HEAD that found the key): if the object
there holds exactly the file's bytes, it is this very upload (its reply was lost, or a killed
run wrote it), not an earlier file to keep apart.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

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
