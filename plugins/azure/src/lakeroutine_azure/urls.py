"""Parsing and joining ``az://container/blob`` URLs."""

from __future__ import annotations

from typing import NamedTuple

from lakeroutine.storage.base import StorageError


class AzureLocation(NamedTuple):
    """A container and a blob name (or name prefix, without a leading slash)."""

    container: str
    key: str

    @property
    def prefix(self) -> str:
        """The key as a folder prefix: ``a/b/`` (or ``""`` for the whole container)."""
        key = self.key.strip("/")
        return f"{key}/" if key else ""

    def url(self, key: str) -> str:
        """The URL of blob ``key`` in this container."""
        return f"az://{self.container}/{key}"


def parse(url: str) -> AzureLocation:
    """Split an ``az://`` URL; a URL without a container is a :class:`StorageError`."""
    if not url.startswith("az://"):
        raise StorageError(f"{url!r} is not an az:// URL")
    container, _, key = url[len("az://") :].partition("/")
    if not container:
        raise StorageError(f"{url!r} has no container name (expected az://CONTAINER/prefix)")
    return AzureLocation(container, key)


def join(base: str, relpath: str) -> str:
    """The URL of ``relpath`` below the folder ``base``."""
    location = parse(base)
    return location.url(location.prefix + relpath.lstrip("/"))


def canonical(url: str) -> str:
    """``az://container/prefix/``: the location as one comparable text, ending in ``/``."""
    location = parse(url)
    return location.url(location.prefix)
