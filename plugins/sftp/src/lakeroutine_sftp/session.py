"""SSH connections and SFTP sessions, one per server, on an event loop of their own.

asyncssh is asynchronous; the storage protocol is not. A daemon thread runs the loop and
:meth:`Sessions.run` hands it one coroutine at a time from any thread, so many files move
at once over one SSH connection (SFTP pipelines requests). A connection that drops is made
again and the operation repeated (each operation is safe to repeat).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lakeroutine import redact
from lakeroutine.storage.base import StorageError

from lakeroutine_sftp.settings import SECTION, SftpSettings
from lakeroutine_sftp.transport import GatheringConnector
from lakeroutine_sftp.urls import SftpLocation

log = logging.getLogger("lakeroutine.sftp")
T = TypeVar("T")
Operation = Callable[[Any], Awaitable[T]]  # what is run on an SFTP session
FAST_CIPHERS = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]
ATTEMPTS = 4  # connections lost in a row, nothing completed between, before giving up
_LINKING_RENAME: weakref.WeakSet[Any] = weakref.WeakSet()  # sessions of OpenSSH servers


def rename_is_link(sftp: Any) -> bool:
    """Whether the standard SFTP rename of this session's server is atomic and create-only:
    OpenSSH's sftp-server makes it a hard link then an unlink of the old name (asyncssh's
    server checks, then renames: a race)."""
    return sftp in _LINKING_RENAME


def guard_logs(secrets: list[str]) -> None:
    """Mask ``secrets`` wherever text leaves the process (lakeroutine's registry),
    asyncssh's logs included."""
    redact.remember(secrets)
    redact.guard_loggers(("asyncssh",))


def _default_ciphers() -> list[str]:
    from asyncssh.encryption import get_default_encryption_algs

    return [a.decode() for a in get_default_encryption_algs() if a.decode() not in FAST_CIPHERS]


class LoopThread:
    """An asyncio loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="lakeroutine-sftp", daemon=True
        )
        self.thread.start()

    def run(self, coroutine: Awaitable[T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the loop from any thread; its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)  # type: ignore[arg-type]


class Sessions:
    """One SSH connection per server, made on first use, carrying up to ``channels`` SFTP
    sessions handed out in turn: OpenSSH serves each session's requests one at a time (an
    fsync holds up the rest), so files moved at once spread over several."""

    def __init__(self, settings: SftpSettings) -> None:
        self.settings = settings
        self.loop = LoopThread()
        self._sessions: dict[tuple[str, str, int], tuple[Any, list[Any]]] = {}
        self._turn = 0
        self._completed = 0  # operations completed (a lost connection that made way)
        self._locks: dict[tuple[str, str, int], asyncio.Lock] = {}
        guard_logs(settings.secrets())

    def user_of(self, location: SftpLocation) -> str:
        """The login for ``location``: the URL's user, ``username``, or the local user."""
        import getpass

        return location.user or self.settings.username or getpass.getuser()

    def run(self, location: SftpLocation, operation: Operation[T], what: str, pin: Any = None) -> T:
        """``await operation(sftp)`` on one of the server's sessions (``pin`` while it is
        open), again on a new connection if the connection drops (up to ``ATTEMPTS``
        times)."""
        return self.loop.run(self._run(location, operation, what, pin))

    async def _run(self, location: SftpLocation, operation: Operation[T], what: str, pin: Any) -> T:
        import asyncssh

        lost = (asyncssh.ConnectionLost, asyncssh.SFTPConnectionLost, ConnectionError)
        losses, seen = 0, self._completed
        while True:
            sftp = await self.session(location, pin)
            try:
                result = await operation(sftp)
            except (asyncssh.SFTPNoConnection, *lost) as exc:
                await self._forget(location, sftp)
                # Losses count while no operation completes in between: with many files in
                # flight, one caught in every drop is still making way if others complete.
                losses = losses + 1 if self._completed == seen else 1
                seen = self._completed
                if losses == ATTEMPTS:
                    raise StorageError(
                        f"{what}: the SSH connection to {location.server} was lost "
                        f"{ATTEMPTS} times with nothing done in between ({type(exc).__name__})"
                    ) from None
                log.warning("SSH connection to %s lost; connecting again", location.server)
            else:
                self._completed += 1
                return result

    async def session(self, location: SftpLocation, pin: Any = None) -> Any:
        """An SFTP session of ``location``'s server (``pin`` if it is one of them, else the
        next in turn), connecting on first use."""
        key = (self.user_of(location), location.host, location.port)
        found = self._sessions.get(key)
        if found is None:
            lock = self._locks.setdefault(key, asyncio.Lock())
            async with lock:
                if key not in self._sessions:
                    self._sessions[key] = await self._connect(location, key[0])
                found = self._sessions[key]
        channels = found[1]
        if pin is not None and pin in channels:
            return pin
        self._turn += 1
        return channels[self._turn % len(channels)]

    async def _forget(self, location: SftpLocation, sftp: Any) -> None:
        key = (self.user_of(location), location.host, location.port)
        found = self._sessions.get(key)
        if found is not None and sftp in found[1]:
            del self._sessions[key]
            found[0].close()

    async def _connect(self, location: SftpLocation, user: str) -> tuple[Any, Any]:
        import asyncssh

        settings = self.settings
        options: dict[str, Any] = {
            "username": user,
            "connect_timeout": settings.connect_timeout,
            "keepalive_interval": 15,
            # AES-GCM first: asyncssh's ChaCha20-Poly1305 (the usual default) costs several
            # times the CPU per packet, and small files are many small packets.
            "encryption_algs": [*FAST_CIPHERS, *_default_ciphers()],
        }
        if not _proxied():
            options["tunnel"] = GatheringConnector()  # one socket send per loop turn
        if not settings.check_host_keys:
            options["known_hosts"] = None
        elif settings.known_hosts:
            options["known_hosts"] = _named_file(settings.known_hosts, "known_hosts")
        if settings.key_file:
            options["client_keys"] = [_named_file(settings.key_file, "key_file")]
        if settings.passphrase:
            options["passphrase"] = settings.passphrase.get_secret_value()
        if settings.password:
            options["password"] = settings.password.get_secret_value()
        where = f"sftp://{user}@{location.host}:{location.port}"
        try:
            connection = await asyncssh.connect(location.host, location.port, **options)
        except asyncssh.HostKeyNotVerifiable:
            raise StorageError(
                f"the host key of {location.host}:{location.port} is not trusted: add it to "
                f"{settings.known_hosts or '~/.ssh/known_hosts'} (ssh-keyscan), set "
                "storage_options.sftp.known_hosts, or (unsafe) storage_options.sftp."
                "check_host_keys to false"
            ) from None
        except asyncssh.PermissionDenied:
            raise StorageError(f"the SSH server refused the credentials for {where}") from None
        except asyncssh.KeyImportError as exc:
            raise StorageError(
                f"cannot use storage_options.sftp.key_file for {where}: {exc.reason}"
            ) from None
        except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
            text = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or ""
            raise StorageError(
                redact.mask(f"cannot reach {where}: {type(exc).__name__} {text}".strip())
            ) from None
        try:
            sftp = await connection.start_sftp_client(path_errors="surrogateescape")
        except Exception as exc:
            connection.close()
            raise StorageError(f"{where} offers no SFTP: {type(exc).__name__}") from None
        channels = [sftp, *await _more_sessions(connection, settings.channels - 1)]
        if str(connection.get_extra_info("server_version") or "").startswith("SSH-2.0-OpenSSH"):
            _LINKING_RENAME.update(channels)
        return connection, channels

    def close(self) -> None:
        """Close every connection."""

        async def close_all() -> None:
            for connection, _channels in self._sessions.values():
                connection.close()
            self._sessions.clear()

        self.loop.run(close_all())


async def _more_sessions(connection: Any, count: int) -> list[Any]:
    """Up to ``count`` more SFTP sessions on ``connection``, opened together; as many as
    the server allows (OpenSSH's ``MaxSessions``, 10 by default, counts them)."""
    import asyncssh

    opened = await asyncio.gather(
        *(connection.start_sftp_client(path_errors="surrogateescape") for _ in range(count)),
        return_exceptions=True,
    )
    for failure in (o for o in opened if isinstance(o, BaseException)):
        if not isinstance(failure, (asyncssh.Error, OSError)):
            raise failure
        log.debug("SFTP session refused: %s", type(failure).__name__)
    return [o for o in opened if not isinstance(o, BaseException)]


def _proxied() -> bool:
    """Whether ssh's configuration may route connections through a proxy (``ProxyJump``,
    ``ProxyCommand``): then asyncssh connects as configured, without gathered writes."""
    for path in ("~/.ssh/config", "/etc/ssh/ssh_config"):
        try:
            with open(os.path.expanduser(path), encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        for line in text.lower().splitlines():
            if line.strip().startswith(("proxyjump", "proxycommand")):
                return True
    return False


def _named_file(path: str, field: str) -> str:
    """``path`` expanded, or a StorageError naming the file and its option when it cannot be
    read (asyncssh would only say FileNotFoundError, as if the server were unreachable)."""
    expanded = os.path.expanduser(path)
    if not os.path.isfile(expanded):
        why = "is a folder" if os.path.isdir(expanded) else "does not exist"
        raise StorageError(f"storage_options.{SECTION}.{field}: {expanded} {why}")
    if not os.access(expanded, os.R_OK):
        raise StorageError(f"storage_options.{SECTION}.{field}: {expanded} cannot be read")
    return expanded
