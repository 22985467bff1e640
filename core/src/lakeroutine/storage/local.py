"""Local folders as a storage: atomic writes by temporary name + rename, archive by link."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from lakeroutine.storage.base import FileInfo, StorageError, is_temporary_name


def local_path(url: str) -> str:
    """The filesystem path of a local URL (``file:///x`` or a plain path)."""
    return url[len("file://") :] if url.startswith("file://") else url


class LocalStorage:
    """Files on local (or mounted) filesystems."""

    scheme = "file"

    def __init__(self, **options: object) -> None:
        # Local folders take no options; S3 settings in a mixed routine are not ours.
        self.options = options

    def join(self, base: str, relpath: str) -> str:
        return os.path.join(local_path(base), *relpath.split("/"))

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
        root = local_path(base)
        if not os.path.isdir(root):
            return
        stack = [("", root)]
        while stack:
            prefix, folder = stack.pop()
            with os.scandir(folder) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    rel = f"{prefix}{entry.name}"
                    if entry.is_dir(follow_symlinks=False):
                        stack.append((rel + "/", entry.path))
                    elif entry.is_file() and not is_temporary_name(entry.name):
                        st = entry.stat()
                        yield FileInfo(entry.path, rel, st.st_size, st.st_mtime_ns)

    def stat(self, url: str) -> FileInfo | None:
        path = local_path(url)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return FileInfo(path, os.path.basename(path), st.st_size, st.st_mtime_ns)

    def download(self, url: str, local_file: Path) -> None:
        shutil.copyfile(local_path(url), local_file)

    def upload(self, local_file: Path, url: str, *, overwrite: bool = True) -> FileInfo:
        return self._publish(str(local_file), local_path(url), overwrite=overwrite)

    def copy(self, source: FileInfo, url: str, *, overwrite: bool = True) -> FileInfo:
        dest = local_path(url)
        if not overwrite:
            # Archiving: a hard link is an atomic copy that refuses to replace anything.
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            try:
                os.link(local_path(source.url), dest)
                return self._info(dest)
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    raise FileExistsError(dest) from exc
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
        return self._publish(local_path(source.url), dest, overwrite=overwrite)

    def delete_many(self, urls: Iterable[str]) -> None:
        for url in urls:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(local_path(url))

    def make_durable(self, urls: Iterable[str]) -> None:
        # One sync for a whole batch costs far less than an fsync per file.
        os.sync()

    def _publish(self, source: str, dest: str, *, overwrite: bool) -> FileInfo:
        folder, name = os.path.split(dest)
        os.makedirs(folder, exist_ok=True)
        # A fixed temporary name: a write killed half-way leaves one that the re-run (which
        # must stage that file again, since it was never journalled) overwrites and renames.
        temp = os.path.join(folder, f".{name}.lakeroutine-tmp")
        try:
            shutil.copyfile(source, temp)
            if overwrite:
                os.replace(temp, dest)
            else:
                try:
                    os.link(temp, dest)
                except FileExistsError:
                    raise FileExistsError(dest) from None
        finally:
            if os.path.lexists(temp):
                os.unlink(temp)
        return self._info(dest)

    @staticmethod
    def _info(path: str) -> FileInfo:
        st = os.stat(path)
        return FileInfo(path, os.path.basename(path), st.st_size, st.st_mtime_ns)
