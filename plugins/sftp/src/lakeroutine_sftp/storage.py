"""``sftp://`` locations as a lakeroutine storage (the protocol in ``lakeroutine.storage.base``).

SFTP is a filesystem, so the guarantees are a filesystem's: a file is written under a
private temporary name (unique per run and file), fsynced where the server offers
``fsync@openssh.com``, then renamed into place (``posix-rename@openssh.com`` to replace; a
hard link, else the standard rename, which refuses to overwrite, for create-only archive
writes). Landing files are claimed by renaming them to a hidden name, then compared with the
version staged, as local folders are. ``version`` is ``"size:mtime"``: SFTP gives nothing
finer (mtime has whole seconds). Copies within a server use ``copy-data`` where offered.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import posixpath
import secrets
import stat as stat_module
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from lakeroutine.storage.base import (
    CLAIM_SUFFIX,
    FileInfo,
    SourceChanged,
    StorageError,
    claim_name,
    is_temporary_name,
    temporary_name,
)

from lakeroutine_sftp import urls
from lakeroutine_sftp.session import Sessions, rename_is_link
from lakeroutine_sftp.settings import SftpSettings
from lakeroutine_sftp.urls import SftpLocation

log = logging.getLogger("lakeroutine.sftp")
MAX_SEGMENT_BYTES = 255  # NAME_MAX of the filesystems SFTP servers run on
MAX_PATH_BYTES = 4096  # PATH_MAX
PARALLEL_FILES = 64  # claims and removals in flight at once (SFTP pipelines requests)


def temporary_path(path: str, token: str) -> str:
    """A private temporary name beside ``path``, unique per run (``token``) and file: a write
    repeated on a new connection reuses (truncates) it rather than leaving one behind."""
    folder, name = posixpath.split(path)
    return posixpath.join(folder, temporary_name(name, token))


def claim_path(path: str) -> str:
    """The hidden name a landing file is moved to while it is removed."""
    folder, name = posixpath.split(path)
    return posixpath.join(folder, claim_name(name))


def version_of(attrs: Any) -> str:
    """``"size:mtime"``: the finest version token SFTP gives."""
    return f"{attrs.size}:{attrs.mtime}"


def is_link(attrs: Any) -> bool:
    """Whether SFTP attributes are a symbolic link's."""
    return attrs.permissions is not None and stat_module.S_ISLNK(attrs.permissions)


def is_dir(attrs: Any) -> bool:
    """Whether SFTP attributes are a folder's."""
    return attrs.permissions is not None and stat_module.S_ISDIR(attrs.permissions)


def _errors() -> Any:
    import asyncssh

    return asyncssh


class SftpStorage:
    """Files below ``sftp://user@host:port/path/`` locations."""

    scheme = "sftp"

    def __init__(self, **options: Any) -> None:
        self.settings = SftpSettings.from_options(options)
        self._sessions: Sessions | None = None
        self.token = secrets.token_hex(8)  # this run's temporary names
        self._folders: set[str] = set()  # folders known to exist (made or seen this run)
        self._claimed_from: dict[str, str] = {}  # claim URL -> the URL it was claimed from

    @property
    def sessions(self) -> Sessions:
        """The SSH sessions, made on first use (building a routine connects nowhere)."""
        if self._sessions is None:
            self._sessions = Sessions(self.settings)
        return self._sessions

    def _run(self, url: str, operation: Any, what: str, pin: Any = None) -> Any:
        location = urls.parse(url)
        return self.sessions.run(location, lambda sftp: operation(sftp, location), what, pin)

    # -- locations ------------------------------------------------------------------------

    def join(self, base: str, relpath: str) -> str:
        """The URL of ``relpath`` below the location ``base``."""
        return urls.join(base, relpath)

    def canonical(self, url: str) -> str:
        """The location as one comparable text ending in ``/`` (no network)."""
        return urls.canonical(url, self.settings.username)

    def resolve(self, url: str) -> str:
        """Like :meth:`canonical`, as the server sees it (for the overlap checks before a
        run): the host name resolved to its address, and the path through the server's
        symbolic links (``realpath`` of the nearest existing folder, the rest appended)."""
        import socket

        location = urls.parse(url)
        try:
            infos = socket.getaddrinfo(location.host, location.port, type=socket.SOCK_STREAM)
            addresses = [str(info[4][0]) for info in infos]
        except OSError:
            addresses = []

        async def realpath(sftp: Any, location: SftpLocation) -> str:
            asyncssh = _errors()
            path, rest = posixpath.normpath(location.path), ""
            while True:
                try:
                    found = await sftp.realpath(path)
                    break
                except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPFailure):
                    if path in ("/", ""):
                        return posixpath.normpath(location.path)
                    path, name = posixpath.split(path)
                    rest = posixpath.join(name, rest) if rest else name
            found = found if isinstance(found, str) else found.decode("utf-8", "surrogateescape")
            return posixpath.join(found, rest) if rest else found

        path = self._run(url, realpath, f"cannot resolve {url}")
        return urls.canonical(url, self.settings.username, addresses=addresses, path=path)

    def name_problem(self, base: str, relpath: str) -> str | None:
        """Why this storage cannot hold ``relpath`` below ``base``, else None."""
        path = posixpath.join(urls.parse(base).path, relpath)
        for segment in relpath.split("/"):
            size = len(segment.encode("utf-8", "surrogateescape"))
            if size > MAX_SEGMENT_BYTES:
                return f"a name segment is {size} bytes; filesystems allow {MAX_SEGMENT_BYTES}"
        if len(path.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
            return f"the path would be longer than {MAX_PATH_BYTES} bytes"
        return None

    def check_location(self, base: str, *, write: bool) -> None:
        """Log in (host key checked), then the folder exists (reads) or its nearest
        existing ancestor is a folder (writes)."""

        async def check(sftp: Any, location: SftpLocation) -> None:
            asyncssh = _errors()
            path = location.path
            while True:
                try:
                    attrs = await sftp.stat(path)
                except asyncssh.SFTPNoSuchFile:
                    if not write:
                        raise StorageError(
                            f"folder {location.path} does not exist on sftp://{location.server}"
                        ) from None
                    path = posixpath.dirname(path.rstrip("/")) or "/"
                    continue
                except asyncssh.SFTPPermissionDenied:
                    raise StorageError(
                        f"access denied to {path} on sftp://{location.server}"
                    ) from None
                if not is_dir(attrs):
                    raise StorageError(f"{path} on sftp://{location.server} is not a folder")
                return

        self._run(base, check, f"cannot use {base}")

    def list_files(self, base: str) -> Iterator[FileInfo]:
        """Every file below ``base``, streamed: a folder is read in chunks of
        ``list_chunk`` names (only the names of the folder being read, and of folders still
        to read, stay in memory). Symbolic links are listed (``is_link``), never followed. A
        connection lost mid-folder is made again and the folder read on from where it was."""
        location = urls.parse(base)
        root = location.path.rstrip("/") or "/"
        stack = [("", root)]
        while stack:
            prefix, folder = stack.pop()
            reader = _FolderReader(folder, self.settings.list_chunk)
            try:
                while not reader.done:
                    chunk = self._run(
                        base, reader.pull, f"cannot list {location.url(folder)}", reader.sftp
                    )
                    reader.seen.update(name for name, *_ in chunk)
                    for name, size, mtime, mode in chunk:
                        rel = prefix + name
                        path = posixpath.join(folder, name)
                        if mode is not None and stat_module.S_ISDIR(mode):
                            stack.append((rel + "/", path))
                        elif not is_temporary_name(name):
                            link = mode is not None and stat_module.S_ISLNK(mode)
                            version = f"{size}:{mtime}"
                            yield FileInfo(
                                location.url(path), rel, size, mtime, None, version, link
                            )
            finally:
                if not reader.done:
                    with contextlib.suppress(Exception):
                        self.sessions.loop.run(reader.close(), timeout=10)

    def stat(self, url: str) -> FileInfo | None:
        """The file at ``url``, or None if there is none."""

        async def lstat(sftp: Any, location: SftpLocation) -> Any:
            try:
                return await sftp.lstat(location.path)
            except _errors().SFTPNoSuchFile:
                return None

        attrs = self._run(url, lstat, f"cannot read {url}")
        return None if attrs is None else self._info(url, attrs)

    # -- moving bytes ---------------------------------------------------------------------

    def download(self, url: str, local_path: Path) -> None:
        """Pipelined reads; the file must keep its size and mtime throughout."""
        settings = self.settings

        async def get(sftp: Any, location: SftpLocation) -> None:
            before = await sftp.lstat(location.path)
            await sftp.get(
                location.path,
                str(local_path),
                block_size=_write_block(sftp, settings.block_size),
                max_requests=settings.max_requests,
            )
            after = await sftp.lstat(location.path)
            size = Path(local_path).stat().st_size
            if version_of(before) != version_of(after) or size != after.size:
                raise SourceChanged(f"{url} changed while it was being downloaded")

        asyncssh = _errors()
        try:
            self._run(url, get, f"cannot download {url}")
        except asyncssh.SFTPNoSuchFile:
            raise FileNotFoundError(url) from None
        except asyncssh.SFTPPermissionDenied as exc:
            raise PermissionError(f"{url} cannot be read: {exc.reason}") from None

    def upload(
        self,
        local_path: Path,
        url: str,
        *,
        overwrite: bool = True,
        expected_size: int | None = None,
    ) -> FileInfo:
        """Written under a private temporary name with pipelined writes, hashed
        (MD5) and counted while streamed, fsynced, then renamed into place. Refused before
        the rename if other than ``expected_size`` bytes were sent."""

        async def put(sftp: Any, location: SftpLocation) -> FileInfo:
            path = location.path
            await self._folder(sftp, posixpath.dirname(path))
            temp = temporary_path(path, self.token)
            try:
                attrs, md5 = await self._write(sftp, Path(local_path), temp)
                if expected_size is not None and attrs.size != expected_size:
                    raise SourceChanged(
                        f"{url}: the source held {attrs.size} bytes, not the {expected_size} "
                        "listed; nothing published"
                    )
                return await self._publish(sftp, location, temp, attrs, md5, overwrite=overwrite)
            except BaseException:
                with contextlib.suppress(Exception):
                    await _remove_quietly(sftp, temp)
                raise

        return self._run(url, put, f"cannot upload to {url}")

    def copy(self, source: FileInfo, url: str, *, overwrite: bool = True) -> FileInfo:
        """Server-side ``copy-data`` where offered (else streamed through this machine,
        hashed), into a temporary name, then renamed into place; refused if the source is
        not the listed version before and after."""
        if urls.parse(source.url)[:3] != urls.parse(url)[:3]:
            raise StorageError(f"cannot copy {source.url} to another server ({url})")

        async def copy(sftp: Any, location: SftpLocation) -> FileInfo:
            src = urls.parse(source.url).path
            temp = temporary_path(location.path, self.token)
            await self._folder(sftp, posixpath.dirname(location.path))
            if sftp.supports_remote_copy:
                return await self._copy_data(sftp, src, temp, source, location, overwrite)
            await self._check_version(sftp, src, source)  # else streamed through here
            try:
                attrs, md5 = await self._stream_copy(sftp, src, temp)
                await self._check_version(sftp, src, source)
                if attrs.size != source.size:  # rewritten in place while copied
                    raise SourceChanged(f"{source.url} changed while it was copied to {url}")
                return await self._publish(sftp, location, temp, attrs, md5, overwrite=overwrite)
            except BaseException:
                with contextlib.suppress(Exception):
                    await _remove_quietly(sftp, temp)
                raise

        try:
            return self._run(url, copy, f"cannot copy {source.url} to {url}")
        except _errors().SFTPPermissionDenied as exc:
            raise PermissionError(f"{source.url} cannot be read: {exc.reason}") from None

    def delete_many(self, urls_: Iterable[str]) -> None:
        """Removed many at a time; missing files are fine."""
        for url, chunk in _by_server(urls_):

            async def remove(sftp: Any, location: SftpLocation, chunk: list[str] = chunk) -> None:
                await _gather(_remove_quietly(sftp, urls.parse(u).path) for u in chunk)

            self._run(url, remove, f"cannot delete files on {url}")

    def make_durable(self, urls_: Iterable[str]) -> None:
        """Nothing more to do: every file was fsynced (``fsync@openssh.com``, where the
        server offers it) before it was renamed into place."""

    # -- removal of exactly the version staged --------------------------------------------

    def claim(self, files: Sequence[FileInfo]) -> list[FileInfo | None]:
        """Rename each file to its hidden claim name (a rename that refuses to overwrite),
        then compare it with the listed version; a file that changed goes back (never over
        a newer file) and gives None. A held file is named by its claim URL."""
        held: dict[str, FileInfo | None] = {}
        for url, chunk in _by_server(f.url for f in files):
            members = set(chunk)
            wanted = [f for f in files if f.url in members]

            async def hold(sftp: Any, location: SftpLocation, wanted=wanted) -> None:
                results = await _gather(self._claim_one(sftp, info) for info in wanted)
                held.update(zip((i.url for i in wanted), results, strict=True))

            self._run(url, hold, f"cannot claim files on {url}")
        return [held.get(f.url) for f in files]

    def claimed(self, info: FileInfo) -> FileInfo | None:
        """The file a killed run's claim left for ``info``, if any."""

        async def find(sftp: Any, location: SftpLocation) -> FileInfo | None:
            claim = claim_path(location.path)
            try:
                attrs = await sftp.lstat(claim)
            except _errors().SFTPNoSuchFile:
                return None
            return self._held(location.url(claim), info, attrs)

        return self._run(info.url, find, f"cannot read {info.url}")

    def remove_claimed(self, files: Sequence[FileInfo]) -> list[FileInfo]:
        """Unlink each claim if it still holds that version; one rewritten in place since is
        put back and returned (left)."""
        left: list[FileInfo] = []
        for url, chunk in _by_server(f.url for f in files):
            members = set(chunk)
            wanted = [f for f in files if f.url in members]

            async def remove(sftp: Any, location: SftpLocation, wanted=wanted) -> None:
                results = await _gather(self._remove_one(sftp, info) for info in wanted)
                left.extend(info for info, kept in zip(wanted, results, strict=True) if kept)

            self._run(url, remove, f"cannot remove files on {url}")
        return left

    def release(self, files: Sequence[FileInfo]) -> None:
        """Put claimed files back at their names (never over a newer file)."""
        for url, chunk in _by_server(f.url for f in files):

            async def give_back(sftp: Any, location: SftpLocation, chunk=chunk) -> None:
                await _gather(self._restore(sftp, claim) for claim in chunk)

            self._run(url, give_back, f"cannot give files back on {url}")

    def sweep_temporaries(self, base: str) -> int:
        """Remove the temporary files killed runs left below ``base`` (only one run of a
        routine goes at a time; this run's own temporaries are kept). Claims are not
        temporaries: post_staging finishes them."""

        async def sweep(sftp: Any, location: SftpLocation) -> int:
            removed = 0
            folders = [location.path.rstrip("/") or "/"]
            while folders:
                folder = folders.pop()
                stale = []
                with contextlib.suppress(_errors().SFTPNoSuchFile):
                    async for entry in sftp.scandir(folder):
                        name, path = entry.filename, posixpath.join(folder, entry.filename)
                        if name in (".", ".."):
                            continue
                        if is_dir(entry.attrs):
                            folders.append(path)
                        elif (
                            is_temporary_name(name)
                            and not name.endswith(CLAIM_SUFFIX)
                            and f".{self.token}." not in name
                        ):
                            stale.append(path)
                await _gather(_remove_quietly(sftp, path) for path in stale)
                removed += len(stale)
            return removed

        return self._run(base, sweep, f"cannot clean {base}")

    async def _claim_one(self, sftp: Any, info: FileInfo) -> FileInfo | None:
        asyncssh = _errors()
        location = urls.parse(info.url)
        claim = claim_path(location.path)
        claim_url = location.url(claim)
        try:
            await sftp.rename(location.path, claim)
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPFileAlreadyExists, asyncssh.SFTPFailure):
            # Gone, or a claim is there: this very claim, whose reply was lost with its
            # connection (then the name is free and the claim is the version listed), or a
            # killed run's, which post_staging finishes first (claimed()).
            try:
                attrs = await sftp.lstat(claim)
            except asyncssh.SFTPNoSuchFile:
                return None
            if await _exists(sftp, location.path) or version_of(attrs) != info.version:
                return None
            return self._held(claim_url, info, attrs)
        attrs = await sftp.lstat(claim)
        held = self._held(claim_url, info, attrs)
        if version_of(attrs) == info.version and is_link(attrs) == info.is_link:
            return held
        await self._restore(sftp, claim_url)  # changed since it was listed
        return None

    async def _remove_one(self, sftp: Any, held: FileInfo) -> bool:
        """Remove one claimed file if it is still that version; True if it was left."""
        path = urls.parse(held.url).path
        try:
            attrs = await sftp.lstat(path)
        except _errors().SFTPNoSuchFile:
            self._claimed_from.pop(held.url, None)
            return False  # gone already
        if held.version and version_of(attrs) != held.version:
            await self._restore(sftp, held.url)  # rewritten in place since claimed
            return True
        await _remove_quietly(sftp, path)
        self._claimed_from.pop(held.url, None)
        return False

    async def _restore(self, sftp: Any, claim_url: str) -> None:
        """Put a claimed file back at its name; if a newer file took that name meanwhile,
        keep both (the claimed one under a visible name beside it) and say so."""
        asyncssh = _errors()
        original = self._claimed_from.pop(claim_url, None)
        claim = urls.parse(claim_url).path
        if original is None or not await _exists(sftp, claim):
            return
        path = urls.parse(original).path
        try:
            await sftp.rename(claim, path)
        except (asyncssh.SFTPFileAlreadyExists, asyncssh.SFTPFailure):
            kept = f"{path}.lakeroutine-kept-{secrets.token_hex(4)}"
            await sftp.rename(claim, kept)
            log.warning(
                "%s was replaced while being removed; the earlier one is kept as %s", original, kept
            )

    def _held(self, claim_url: str, info: FileInfo, attrs: Any) -> FileInfo:
        """A claimed file, named by its claim URL (remembering where it came from)."""
        self._claimed_from[claim_url] = info.url
        return FileInfo(
            claim_url,
            info.relpath,
            attrs.size or 0,
            attrs.mtime,
            None,
            version_of(attrs),
            is_link(attrs),
        )

    # -- helpers --------------------------------------------------------------------------

    async def _folder(self, sftp: Any, folder: str) -> None:
        """Make ``folder`` (and its parents) unless this run made or saw it already."""
        if folder not in self._folders:
            await sftp.makedirs(folder, exist_ok=True)
            self._folders.add(folder)

    async def _write(self, sftp: Any, local_path: Path, temp: str) -> tuple[Any, str]:
        """Stream a local file to a new remote file, ``max_requests`` writes in flight;
        returns the written file's attributes and the MD5 of the bytes sent."""
        md5 = hashlib.md5(usedforsecurity=False)
        block = _write_block(sftp, self.settings.block_size)
        window = asyncio.Semaphore(self.settings.max_requests)
        pending: set[asyncio.Task[Any]] = set()
        offset = 0
        async with sftp.open(temp, _create_flags(), encoding=None, block_size=0) as remote:

            async def write(data: bytes, at: int) -> None:
                try:
                    await remote.write(data, at)
                finally:
                    window.release()

            with open(local_path, "rb") as handle:
                for data in iter(lambda: handle.read(block), b""):
                    md5.update(data)
                    await window.acquire()
                    task = asyncio.ensure_future(write(data, offset))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    offset += len(data)
                    failed = [t for t in list(pending) if t.done() and t.exception()]
                    if failed:
                        break
            await _gather(list(pending))
            await _fsync(remote)
        attrs = await sftp.lstat(temp)
        if attrs.size != offset:
            raise StorageError(f"{temp}: the server holds {attrs.size} bytes of the {offset} sent")
        return attrs, md5.hexdigest()

    async def _stream_copy(self, sftp: Any, src: str, temp: str) -> tuple[Any, str]:
        """Copy through this machine (servers without copy-data), hashed as streamed."""
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        block = _write_block(sftp, self.settings.block_size)
        async with (
            sftp.open(src, "rb", block_size=block) as reader,
            sftp.open(temp, _create_flags(), encoding=None, block_size=0) as writer,
        ):
            while data := await reader.read(block):
                md5.update(data)
                await writer.write(data, size)
                size += len(data)
            await _fsync(writer)
            attrs = await writer.stat()
        return attrs, md5.hexdigest()

    async def _copy_data(
        self,
        sftp: Any,
        src: str,
        temp: str,
        source: FileInfo,
        location: SftpLocation,
        overwrite: bool,
    ) -> FileInfo:
        """Server-side ``copy-data`` in four round trips: both files opened together; the
        copy; then the source's handle checked against the listed version (the bytes copied
        are that inode's, whatever has the name now), the copy fsynced and its attributes
        read together; then published while both handles close."""
        reader, writer = await asyncio.gather(
            sftp.open(src, "rb", block_size=0),
            sftp.open(temp, _create_flags(), encoding=None, block_size=0),
            return_exceptions=True,
        )
        if isinstance(reader, BaseException) or isinstance(writer, BaseException):
            with contextlib.suppress(Exception):  # close and remove what did open
                await asyncio.gather(
                    *(h.close() for h in (reader, writer) if not isinstance(h, BaseException)),
                    _remove_quietly(sftp, temp),
                )
            if isinstance(reader, _errors().SFTPNoSuchFile):
                raise FileNotFoundError(f"{source.url} no longer exists") from None
            raise reader if isinstance(reader, BaseException) else writer
        published = False
        try:
            await sftp.remote_copy(reader, writer)
            now, _, attrs = await asyncio.gather(reader.stat(), _fsync(writer), writer.stat())
            if (source.version and version_of(now) != source.version) or (
                attrs.size != now.size or attrs.size != source.size
            ):
                raise SourceChanged(f"{source.url} changed since it was listed; not copied")
            closing = asyncio.gather(reader.close(), writer.close(), return_exceptions=True)
            try:
                info = await self._publish(sftp, location, temp, attrs, None, overwrite=overwrite)
            finally:
                await closing
            published = True
            return info
        finally:
            if not published:
                with contextlib.suppress(Exception):
                    await asyncio.gather(reader.close(), writer.close(), return_exceptions=True)
                    await _remove_quietly(sftp, temp)

    async def _check_version(self, sftp: Any, path: str, source: FileInfo) -> None:
        try:
            attrs = await sftp.lstat(path)
        except _errors().SFTPNoSuchFile:
            raise FileNotFoundError(f"{source.url} no longer exists") from None
        if source.version and version_of(attrs) != source.version:
            raise SourceChanged(f"{source.url} changed since it was listed; not copied")

    async def _publish(
        self,
        sftp: Any,
        location: SftpLocation,
        temp: str,
        attrs: Any,
        md5: str | None,
        *,
        overwrite: bool,
    ) -> FileInfo:
        """Rename ``temp`` (whose attributes are ``attrs``: a rename keeps them) into place:
        replacing (posix-rename), or create-only (OpenSSH's standard rename, which is a hard
        link then an unlink; elsewhere a hard link, else the standard rename, each refusing
        an existing name)."""
        asyncssh = _errors()
        path = location.path
        url = location.url(path)
        try:
            if overwrite:
                await sftp.posix_rename(temp, path)
            elif rename_is_link(sftp):
                await sftp.rename(temp, path)  # one request: link, then unlink the temp
            else:
                try:
                    await sftp.link(temp, path)
                    await _remove_quietly(sftp, temp)
                except asyncssh.SFTPOpUnsupported:
                    await sftp.rename(temp, path)
        except (asyncssh.SFTPFileAlreadyExists, asyncssh.SFTPFailure) as exc:
            if overwrite:
                raise StorageError(f"cannot publish {url}: {exc.reason}") from None
            existing = await sftp.lstat(path)
            if existing.size == attrs.size:
                md5 = md5 or await _md5_of(sftp, temp)
                if await _md5_of(sftp, path) == md5:  # these very bytes, written already
                    await _remove_quietly(sftp, temp)
                    return self._info(url, existing, md5)
            raise FileExistsError(url) from None
        return self._info(url, attrs, md5)

    @staticmethod
    def _info(url: str, attrs: Any, md5: str | None = None) -> FileInfo:
        return FileInfo(
            url,
            posixpath.basename(urls.parse(url).path),
            attrs.size or 0,
            attrs.mtime,
            md5,
            version_of(attrs),
            is_link(attrs),
        )


def _write_block(sftp: Any, wanted: int) -> int:
    """The largest write the server takes (OpenSSH's sftp-server: 255 KiB), up to ``wanted``."""
    limit = getattr(getattr(sftp, "limits", None), "max_write_len", 0) or 32 * 1024
    return max(4096, min(wanted, limit))


def _create_flags() -> int:
    """Open flags of this run's temporary file: write, create, truncate (the name is private
    to this run and file; publishing is what refuses to overwrite)."""
    import asyncssh

    return asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC


async def _fsync(handle: Any) -> None:
    """fsync@openssh.com where the server offers it."""
    try:
        await handle.fsync()
    except _errors().SFTPOpUnsupported:
        pass


class _FolderReader:
    """One folder read in chunks, again from the start (skipping the names already taken)
    if its connection is lost."""

    def __init__(self, folder: str, chunk: int) -> None:
        self.folder = folder
        self.chunk = chunk
        self.seen: set[str] = set()  # names already taken from this folder
        self.done = False
        self.sftp: Any = None  # the session the folder is read on
        self._entries: Any = None

    async def pull(self, sftp: Any, location: SftpLocation) -> list[tuple[str, int, Any, Any]]:
        """The next names of the folder (name, size, mtime, mode); none left: ``done``."""
        asyncssh = _errors()
        if self.sftp is not sftp:  # first chunk, or a new connection: read from the start
            self.sftp, self._entries = sftp, sftp.scandir(self.folder).__aiter__()
        chunk: list[tuple[str, int, Any, Any]] = []
        while len(chunk) < self.chunk:
            try:
                entry = await self._entries.__anext__()
            except (StopAsyncIteration, asyncssh.SFTPNoSuchFile):
                self.done = True
                break
            name = entry.filename
            if name not in (".", "..") and name not in self.seen:
                attrs = entry.attrs
                chunk.append((name, attrs.size or 0, attrs.mtime, attrs.permissions))
        return chunk

    async def close(self) -> None:
        """Close the folder's handle (a listing left before its end)."""
        if self._entries is not None:
            await self._entries.aclose()


async def _md5_of(sftp: Any, path: str) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    async with sftp.open(path, "rb") as handle:
        while data := await handle.read(1 << 20):
            md5.update(data)
    return md5.hexdigest()


async def _remove_quietly(sftp: Any, path: str) -> None:
    try:
        await sftp.remove(path)
    except _errors().SFTPNoSuchFile:
        pass


async def _exists(sftp: Any, path: str) -> bool:
    try:
        await sftp.lstat(path)
    except _errors().SFTPNoSuchFile:
        return False
    return True


async def _gather(awaitables: Iterable[Any]) -> list[Any]:
    """Run awaitables with at most ``PARALLEL_FILES`` at once; results in order."""
    window = asyncio.Semaphore(PARALLEL_FILES)

    async def one(awaitable: Any) -> Any:
        async with window:
            return await awaitable

    return list(await asyncio.gather(*(one(a) for a in awaitables)))


def _by_server(urls_: Iterable[str]) -> Iterator[tuple[str, list[str]]]:
    """URLs grouped by server, in chunks of 1,000: ``(a URL of the group, the chunk)``."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for url in urls_:
        group = groups.setdefault(urls.parse(url)[:3], [])
        group.append(url)
        if len(group) == 1000:
            yield url, list(group)
            group.clear()
    for group in groups.values():
        if group:
            yield group[0], group
