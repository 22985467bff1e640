"""Copying one local file into an open file by the kernel (``copy_file_range``: no bytes
through Python, and a reflink where the filesystem shares extents, e.g. Btrfs and XFS),
refusing a source that changes while it is copied; and syncing one filesystem (not all)."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterable
from typing import Any

from lakeroutine.storage.base import SourceChanged

BLOCK = 1 << 20
# A copy is kept only if its source was left alone for QUIET_NS around it: a writer
# rewriting the file in place (it grows while written) and caught between two of its steps
# writes again within that time, so that copy is refused, not staged. The quiet time before
# the copy is read from the source's mtime (unchanged from before the copy to after it);
# only a source modified less than QUIET_NS ago is watched for the rest of that time after
# its copy. 10 ms more than the 50 ms aimed at: file times lag the clock by up to a tick.
QUIET_NS = 60_000_000
# copy_file_range cannot serve this pair of files (another filesystem on an older kernel,
# a filesystem without it): the bytes go through a read/write loop instead.
_NO_KERNEL_COPY = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF)


def version_of(st: os.stat_result) -> str:
    """A token that changes when the file at a path is replaced or rewritten."""
    return f"{st.st_dev}:{st.st_ino}:{st.st_mtime_ns}"


def copy_checked(
    source: str, out: int, expected_size: int | None, expected_version: str | None
) -> int:
    """Copy ``source`` into the open file ``out``; refuse a source that is not the expected
    version or size, before or after the copy, or that changed meanwhile (size or mtime).
    Returns the bytes copied. No hash: the kernel moves the bytes, and what a hash would
    catch (a source rewritten during the copy) is caught by its version and size.
    With both expected, the file is compared once, after the copy: still the listed inode
    with the listed mtime means it was not written from its listing to then."""
    src = os.open(source, os.O_RDONLY)
    try:
        if expected_version and expected_size is not None:
            before = None
            size = expected_size
        else:
            before = os.fstat(src)
            size = before.st_size
            if expected_version and version_of(before) != expected_version:
                raise SourceChanged(f"{source} changed since it was listed; not copied")
        copied = _kernel_copy(src, out, size)
        if copied is None:
            copied = _loop_copy(src, out)
        now = time.time_ns()  # before the stat: the quiet time is counted up to it
        after = os.fstat(src)
        quiet = now - after.st_mtime_ns
        if quiet < QUIET_NS:  # modified just now (or a clock ahead of ours): watch it
            time.sleep(min(QUIET_NS - quiet, QUIET_NS) / 1e9)
            settled = os.fstat(src)
            if (settled.st_size, settled.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
                raise SourceChanged(f"{source} is still being written")
    finally:
        os.close(src)
    if expected_size is not None and copied != expected_size:
        raise SourceChanged(
            f"{source} changed while it was copied ({copied} bytes, expected {expected_size})"
        )
    if before is None:
        if version_of(after) != expected_version:
            raise SourceChanged(f"{source} changed since it was listed; not copied")
    elif (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise SourceChanged(f"{source} changed while it was copied")
    if copied != after.st_size:
        raise SourceChanged(f"{source} changed while it was copied")
    return copied


def wait_quiet(mtimes_ns: Iterable[int]) -> None:
    """Wait (once) until every file last written at ``mtimes_ns`` has been left alone for
    QUIET_NS: copies of many fresh files then need no wait each, one after another."""
    newest = max(mtimes_ns, default=None)
    if newest is not None:
        wait = QUIET_NS - (time.time_ns() - newest)
        if wait > 0:
            time.sleep(min(wait, QUIET_NS) / 1e9)


def _kernel_copy(src: int, out: int, size: int) -> int | None:
    """Copy ``size`` bytes (fewer if the source shrank) with ``copy_file_range``; None if
    the kernel cannot copy between these files (nothing was written then)."""
    copied = 0
    while copied < size:
        try:
            done = os.copy_file_range(src, out, size - copied)
        except OSError as exc:
            if copied == 0 and exc.errno in _NO_KERNEL_COPY:
                return None
            raise
        if done == 0:  # the source ended early: the size check refuses it
            break
        copied += done
    return copied


def _loop_copy(src: int, out: int) -> int:
    copied = 0
    while block := os.read(src, BLOCK):
        view = memoryview(block)
        while view:
            view = view[os.write(out, view) :]
        copied += len(block)
    return copied


_syncfs: Any = None


def sync_filesystem(folder: str) -> None:
    """Write the filesystem holding ``folder`` to disk (Linux ``syncfs``); where there is
    no such call, every filesystem (``sync``)."""
    global _syncfs
    if _syncfs is None:
        import ctypes  # on the first sync, not when a routine is validated

        try:
            _syncfs = ctypes.CDLL(None, use_errno=True).syncfs
        except (OSError, AttributeError):
            _syncfs = False
    if not _syncfs:
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if _syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)
