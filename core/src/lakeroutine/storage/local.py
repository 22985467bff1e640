"""Local folders as a storage: atomic writes through private temporary names (copied by
the kernel), archive by hard link, and removal of exactly the version staged by claiming a
file (a rename) first."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import logging
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from lakeroutine.storage.base import (
    CLAIM_SUFFIX,
    NAME_MAX,
    FileInfo,
    SourceChanged,
    StorageError,
    claim_name,
    is_temporary_name,
    temporary_name,
)
from lakeroutine.storage.local_copy import copy_checked, sync_filesystem, version_of, wait_quiet
from lakeroutine.storage.local_mounts import waits_on_io

log = logging.getLogger("lakeroutine.storage.local")


def local_path(url: str) -> str:
    """The filesystem path of a local URL (``file:///x`` or a plain path)."""
    return url[len("file://") :] if url.startswith("file://") else url


class _Tokens:
    """Temporary-name tokens unique per process and per file: a random prefix (drawn again
    in a forked child) and a counter, instead of a random draw (a system call) per file."""

    def __init__(self) -> None:
        self._renew()
        os.register_at_fork(after_in_child=self._renew)

    def _renew(self) -> None:
        self._prefix = uuid.uuid4().hex[:10]
        self._count = itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._count):06x}"


_token = _Tokens()


class LocalStorage:
    """Files on local (or mounted) filesystems."""

    scheme = "file"

    def __init__(self, **options: object) -> None:
        # Local folders take no options; S3 settings in a mixed routine are not ours.
        self.options = options
        self._claimed_from: dict[str, str] = {}  # claim path -> the path it was claimed from

    def join(self, base: str, relpath: str) -> str:
        root = local_path(base)
        if not root or not relpath or relpath[0] == "/" or "//" in relpath:
            return os.path.join(root, *relpath.split("/"))
        return (root if root.endswith("/") else root + "/") + relpath  # as os.path.join would

    def canonical(self, url: str) -> str:
        return os.path.realpath(local_path(url)).rstrip(os.sep) + os.sep

    def name_problem(self, base: str, relpath: str) -> str | None:
        if len(relpath) * 4 <= NAME_MAX and "\0" not in relpath:
            return None  # no segment can pass NAME_MAX bytes (at most 4 a character)
        for segment in relpath.split("/"):
            if len(os.fsencode(segment)) > NAME_MAX:
                return f"a segment is longer than {NAME_MAX} bytes"
            if "\0" in segment:
                return "the name holds a NUL byte"
        return None

    def waits_on_io(self, base: str) -> bool:
        """Whether ``base`` is on a network or FUSE filesystem, whose calls wait on a server
        (copies there overlap their waits in threads); a local disk or tmpfs never waits."""
        return waits_on_io(local_path(base))

    def check_location(self, base: str, *, write: bool) -> None:
        path = Path(local_path(base))
        if path.exists() and not path.is_dir():
            raise StorageError(f"{path} is a file, not a folder")
        if not write:
            if not path.is_dir():
                raise StorageError(f"folder {path} does not exist")
            if not os.access(path, os.R_OK | os.X_OK):
                raise StorageError(f"folder {path} cannot be read")
            return
        existing = path
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise StorageError(f"cannot write into {existing} (to create {path})")

    def list_files(self, base: str) -> Iterator[FileInfo]:
        """Regular files and symbolic links (never followed) below ``base``; other kinds
        (FIFOs, sockets, devices) are not files to stage and are not listed. Each folder
        is streamed in the order the filesystem gives (never held whole: memory stays flat
        however many files a folder holds)."""
        root = local_path(base)
        if not os.path.isdir(root):
            return
        stack = [("", root)]
        while stack:
            prefix, folder = stack.pop()
            try:
                listing = os.scandir(folder)
            except FileNotFoundError:  # removed since it was listed
                continue
            with listing:
                for entry in listing:
                    info = _listed(entry, prefix, stack)
                    if info is not None:
                        yield info

    def settle(self, files: Sequence[FileInfo]) -> None:
        """Before copying these listed files: one wait, if any was written just now, until
        all have been left alone for the quiet time each copy checks (not one wait each)."""
        wait_quiet(info.mtime for info in files if isinstance(info.mtime, int))

    def stat(self, url: str) -> FileInfo | None:
        path = local_path(url)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return _info(path, st)

    def download(self, url: str, local_file: Path) -> None:
        fd = os.open(local_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            copy_checked(local_path(url), fd, None, None)
        finally:
            os.close(fd)

    def upload(
        self,
        local_file: Path,
        url: str,
        *,
        overwrite: bool = True,
        expected_size: int | None = None,
    ) -> FileInfo:
        return self._publish(str(local_file), local_path(url), overwrite, expected_size, None)

    def adopt(
        self,
        local_file: Path,
        url: str,
        *,
        overwrite: bool = True,
        expected_size: int | None = None,
    ) -> FileInfo:
        """Move a finished file the run wrote itself (a transformation's output) to
        ``url``: one rename where both are on one filesystem, so no byte is copied and
        nothing needs reading back; else (or for a file with other links, which could
        change through them) a verified copy, as ``upload``. The file is complete before
        its name appears either way."""
        source, dest = str(local_file), local_path(url)
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            st = os.fstat(fd)
            if st.st_nlink != 1 or (expected_size is not None and st.st_size != expected_size):
                return self._publish(source, dest, overwrite, expected_size, None)
            try:
                self._rename_into(source, dest, overwrite)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                return self._publish(source, dest, overwrite, expected_size, None)
            return _info(dest, os.fstat(fd))  # the same file, now under its name
        finally:
            os.close(fd)

    @staticmethod
    def _rename_into(source: str, dest: str, overwrite: bool) -> None:
        rename = os.replace if overwrite else rename_no_replace
        try:
            rename(source, dest)
        except FileNotFoundError:
            if not os.path.exists(source):
                raise
            os.makedirs(os.path.dirname(dest), exist_ok=True)  # the folder is new
            rename(source, dest)

    def copy(self, source: FileInfo, url: str, *, overwrite: bool = True) -> FileInfo:
        """A verified copy; a create-only copy of a file this storage claimed (archiving a
        file about to be removed from landing) is a hard link where the filesystem allows.
        Never a link otherwise: a staged file sharing its landing file's inode would change
        with any write to landing."""
        dest = local_path(url)
        if not overwrite and local_path(source.url) in self._claimed_from:
            # Archiving: a hard link is an atomic copy that refuses to replace anything.
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            try:
                os.link(local_path(source.url), dest, follow_symlinks=False)
                linked = os.stat(dest)
                if source.version and version_of(linked) != source.version:
                    os.unlink(dest)
                    raise SourceChanged(f"{source.url} changed since it was listed; not copied")
                return _info(dest, linked)
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    raise FileExistsError(dest) from exc
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
        return self._publish(local_path(source.url), dest, overwrite, source.size, source.version)

    def delete_many(self, urls: Iterable[str]) -> None:
        for url in urls:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(local_path(url))

    def make_durable(self, urls: Iterable[str]) -> None:
        """One sync of each filesystem holding ``urls`` (far less than an fsync per file,
        and no wait for other filesystems' writes, as a global ``sync`` would)."""
        devices: dict[int, str] = {}
        for folder in {os.path.dirname(local_path(url)) or "." for url in urls}:
            with contextlib.suppress(OSError):
                devices.setdefault(os.stat(folder).st_dev, folder)
        if not devices:
            os.sync()
        for folder in devices.values():
            sync_filesystem(folder)

    # -- removing exactly the version staged -----------------------------------------------

    def claim(self, files: Sequence[FileInfo]) -> list[FileInfo | None]:
        """Rename each file to its claim name, then compare it with the listed version; a
        file that changed goes back (never over a newer one) and gives None."""
        held: list[FileInfo | None] = []
        for info in files:
            path = local_path(info.url)
            claim = _claim_path(path)
            try:
                rename_no_replace(path, claim)  # a killed run's claim there is finished first
            except (FileNotFoundError, FileExistsError):
                held.append(None)
                continue
            st = os.lstat(claim)
            self._claimed_from[claim] = path
            if _same(info, st):
                held.append(
                    FileInfo(
                        claim,
                        info.relpath,
                        st.st_size,
                        st.st_mtime_ns,
                        None,
                        version_of(st),
                        info.is_link,
                    )
                )
            else:
                self._restore(claim)
                held.append(None)
        return held

    def claimed(self, info: FileInfo) -> FileInfo | None:
        claim = _claim_path(local_path(info.url))
        try:
            st = os.lstat(claim)
        except FileNotFoundError:
            return None
        self._claimed_from[claim] = local_path(info.url)
        return FileInfo(
            claim, info.relpath, st.st_size, st.st_mtime_ns, None, version_of(st), info.is_link
        )

    def remove_claimed(self, files: Sequence[FileInfo]) -> list[FileInfo]:
        kept = []
        for held in files:
            try:
                st = os.lstat(held.url)
            except FileNotFoundError:
                continue
            if _same(held, st):
                os.unlink(held.url)
                self._claimed_from.pop(held.url, None)
            else:  # rewritten in place since claimed: put it back, never remove it
                self._restore(held.url)
                kept.append(held)
        return kept

    def release(self, files: Sequence[FileInfo]) -> None:
        for held in files:
            if os.path.lexists(held.url):
                self._restore(held.url)

    def _restore(self, claim: str) -> None:
        _restore(claim, self._claimed_from.pop(claim))

    # -- writing ------------------------------------------------------------------------------

    def _publish(
        self,
        source: str,
        dest: str,
        overwrite: bool,
        expected_size: int | None,
        expected_version: str | None,
    ) -> FileInfo:
        """Copy ``source`` to a private temporary name beside ``dest`` (by the kernel),
        check it (size as expected, source unchanged before, during and after), then rename
        it into place. Nothing unverified ever has the final name.
        The temporary file stays locked (flock) until renamed, so a sweep after a killed
        run removes only temporaries whose writer is gone."""
        folder, name = os.path.split(dest)
        temp = os.path.join(folder, temporary_name(name, _token()))
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileNotFoundError:  # the folder is new
            os.makedirs(folder, exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        published = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            copy_checked(source, fd, expected_size, expected_version)
            if overwrite:
                os.replace(temp, dest)
            else:
                rename_no_replace(temp, dest)
            published = True
            return _info(dest, os.fstat(fd))  # the same file, now under its name
        finally:
            if not published:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
            os.close(fd)

    def sweep_temporaries(self, base: str) -> int:
        """Remove temporary files that killed writers left below ``base`` (a live writer
        holds a lock on its own, so it is never touched). Returns how many were removed."""
        removed = 0
        for folder, _dirs, files in os.walk(local_path(base)):
            for name in files:
                if not is_temporary_name(name) or name.endswith(CLAIM_SUFFIX):
                    continue
                path = os.path.join(folder, name)
                try:
                    fd = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live writer's
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                        removed += 1
                finally:
                    os.close(fd)
        return removed


def _listed(entry: os.DirEntry[str], prefix: str, stack: list[tuple[str, str]]) -> FileInfo | None:
    """The FileInfo of a listed entry, or None (a folder is put on ``stack`` instead; a
    temporary, an entry of another kind or one gone since the folder was read is skipped)."""
    rel = f"{prefix}{entry.name}"
    link = entry.is_symlink()
    if not link and entry.is_dir(follow_symlinks=False):
        stack.append((rel + "/", entry.path))
        return None
    if not link and (not entry.is_file(follow_symlinks=False) or is_temporary_name(entry.name)):
        return None
    try:
        st = entry.stat(follow_symlinks=False)
    except FileNotFoundError:  # removed or renamed since the folder was read
        return None
    return FileInfo(entry.path, rel, st.st_size, st.st_mtime_ns, None, version_of(st), link)


def _info(path: str, st: os.stat_result) -> FileInfo:
    return FileInfo(path, os.path.basename(path), st.st_size, st.st_mtime_ns, None, version_of(st))


def _same(info: FileInfo, st: os.stat_result) -> bool:
    if st.st_size != info.size:
        return False
    if info.version:
        return version_of(st) == info.version
    return st.st_mtime_ns == info.mtime


def _claim_path(path: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, claim_name(name))


def _restore(claim: str, path: str) -> None:
    """Put a claimed file back at ``path``; if a newer file took that name meanwhile, keep
    both (the claimed one under a visible name beside it) and say so."""
    try:
        rename_no_replace(claim, path)
    except FileExistsError:
        kept = f"{path}.lakeroutine-kept-{uuid.uuid4().hex[:8]}"
        os.rename(claim, kept)
        log.warning(
            "%s was replaced while being removed; the earlier version is kept as %s", path, kept
        )


_RENAME_NOREPLACE = 1
_AT_FDCWD = -100
_renameat2: Any = None


def rename_no_replace(source: str, dest: str) -> None:
    """Rename ``source`` to ``dest`` atomically, failing with ``FileExistsError`` if
    ``dest`` exists (Linux ``renameat2`` with ``RENAME_NOREPLACE``); where the system or
    filesystem has no such call, a hard link then an unlink, which refuses the same way."""
    global _renameat2
    if _renameat2 is None:
        _renameat2 = _find_renameat2()
    if _renameat2:
        if _renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(dest), 1) == 0:
            return  # (ints and bytes pass as int and char *: no argtypes, half the call's cost)
        import ctypes  # loaded by _find_renameat2 already

        error = ctypes.get_errno()
        if error not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            # OSError picks its subclass by errno: FileExistsError, FileNotFoundError...
            raise OSError(error, os.strerror(error), source, None, dest)
    os.link(source, dest, follow_symlinks=False)
    os.unlink(source)


def _find_renameat2() -> Any:
    import ctypes  # on the first rename, not when a routine is validated

    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    function.restype = ctypes.c_int
    return function
