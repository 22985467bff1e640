"""Parsing and joining ``sftp://user@host:port/path`` URLs."""

from __future__ import annotations

import getpass
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
        "/" + unquote(path) if slash else "/",
    )


def join(base: str, relpath: str) -> str:
    """The URL of ``relpath`` below the folder ``base``."""
    location = parse(base)
    return location.url(posixpath.join(location.path.rstrip("/") or "/", relpath.lstrip("/")))


def canonical(url: str, default_user: str | None = None) -> str:
    """``sftp://user@host:port/path/``: one comparable text for a location (the user and
    port filled in, the path normalised, ending in ``/``)."""
    location = parse(url)
    user = location.user or default_user or getpass.getuser()
    path = posixpath.normpath(location.path)
    path = path if path.endswith("/") else path + "/"
    return f"sftp://{user}@{location.host}:{location.port}{'/' + path.lstrip('/')}"
