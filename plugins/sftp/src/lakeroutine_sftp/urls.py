"""Parsing and joining ``sftp://user@host:port/path`` URLs.

One representation: the path in a URL is the server's path as it is, never percent-encoded,
so a file named ``%2E%2E%2Fx.csv`` stays that name (it is never decoded into ``../x.csv``).
Only the user part, which no file name ever reaches, may be percent-encoded."""

from __future__ import annotations

import getpass
import ipaddress
import posixpath
from typing import NamedTuple
from urllib.parse import unquote

from lakeroutine.storage.base import StorageError

DEFAULT_PORT = 22


class SftpLocation(NamedTuple):
    """A server (user, host, port) and an absolute path on it."""

    user: str | None
    host: str
    port: int
    path: str

    @property
    def server(self) -> str:
        """``user@host:port`` as written in URLs (the user only if the URL gave one)."""
        user = f"{self.user}@" if self.user else ""
        return f"{user}{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """The URL of ``path`` on this server."""
        return f"sftp://{self.server}{path}"


def parse(url: str) -> SftpLocation:
    """Split an ``sftp://`` URL; no host, a bad port or a password in it is an error."""
    if not url.startswith("sftp://"):
        raise StorageError(f"{url!r} is not an sftp:// URL")
    netloc, slash, path = url[len("sftp://") :].partition("/")
    user, at, hostport = netloc.rpartition("@")
    if ":" in user:
        raise StorageError(
            "an sftp:// URL must not hold a password: give it as storage_options.sftp.password "
            "(from ${env:...})"
        )
    host, _, port = hostport.partition(":")
    if hostport.startswith("["):  # [::1]:22
        host, _, port = hostport[1:].partition("]")
        port = port.lstrip(":")
    if not host:
        raise StorageError("an sftp:// URL needs a host (sftp://user@host:port/path)")
    if port and not port.isdigit():
        raise StorageError(f"the port of an sftp:// URL must be a number, not {port!r}")
    return SftpLocation(
        unquote(user) if at else None,
        host.lower(),
        int(port) if port else DEFAULT_PORT,
        "/" + path if slash else "/",
    )


def join(base: str, relpath: str) -> str:
    """The URL of ``relpath`` below the folder ``base``."""
    location = parse(base)
    return location.url(posixpath.join(location.path.rstrip("/") or "/", relpath.lstrip("/")))


LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
LOOPBACK = "127.0.0.1"


def host_key(host: str, addresses: list[str] | None = None) -> str:
    """One spelling of a host for comparisons: every loopback spelling (``localhost``,
    ``127.0.0.1``, ``::1``, ``[::1]``) is ``127.0.0.1``; an address is written canonically;
    with ``addresses`` (what the name resolved to), the first IPv4 address else the first."""
    name = host.strip("[]").lower().rstrip(".")
    if name in LOOPBACK_NAMES:
        return LOOPBACK
    found = [name, *(addresses or [])]
    parsed = []
    for text in found:
        try:
            parsed.append(ipaddress.ip_address(text.split("%")[0]))
        except ValueError:
            continue
    if any(address.is_loopback for address in parsed):
        return LOOPBACK
    if not parsed:
        return name
    ipv4 = [a for a in parsed if a.version == 4]
    return str(min(ipv4) if ipv4 else min(parsed, key=str))


def canonical(
    url: str,
    default_user: str | None = None,
    *,
    addresses: list[str] | None = None,
    path: str | None = None,
) -> str:
    """``sftp://user@host:port/path/``: one comparable text for a location (the user and
    port filled in, loopback spellings folded, the path normalised, ending in ``/``). A
    caller that resolved the host or the path on the server gives them (``addresses``,
    ``path``)."""
    location = parse(url)
    user = location.user or default_user or getpass.getuser()
    folder = posixpath.normpath(path if path is not None else location.path)
    folder = folder if folder.endswith("/") else folder + "/"
    host = host_key(location.host, addresses)
    return f"sftp://{user}@{host}:{location.port}{'/' + folder.lstrip('/')}"
