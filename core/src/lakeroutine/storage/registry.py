"""Storage backends by URL scheme, as plugins registered them."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from lakeroutine.storage.base import Storage, completed

# Which distribution to install for a scheme no installed plugin serves.
KNOWN_PROVIDERS = {
    "s3": "lakeroutine-s3",
    "s3a": "lakeroutine-s3",
    "gs": "lakeroutine-gcs",
    "az": "lakeroutine-azure",
    "sftp": "lakeroutine-sftp",
}


def scheme_of(url: str) -> str:
    """``"s3"`` for ``s3://b/k``; ``"file"`` for local paths and ``file://`` URLs."""
    head, sep, _ = url.partition("://")
    if not sep or (len(head) == 1 and head.isalpha()):  # no scheme, or a Windows drive
        return "file"
    return head.lower()


class StorageEntry:
    """A registered scheme: its factory, and the plugin and distribution that gave it (a
    plain class: a dataclass compiles its methods at import, which every parse pays)."""

    __slots__ = ("distribution", "factory", "plugin", "scheme")

    def __init__(
        self, scheme: str, factory: Callable[..., Storage], plugin: str, distribution: str
    ) -> None:
        self.scheme = scheme
        self.factory = factory
        self.plugin = plugin
        self.distribution = distribution


class UnknownScheme(ValueError):
    def __init__(self, scheme: str, known: list[str]) -> None:
        hint = ""
        if scheme in KNOWN_PROVIDERS:
            from lakeroutine.install import install_hint

            hint = f"; install it with: {install_hint(KNOWN_PROVIDERS[scheme])}"
        super().__init__(
            f"no storage plugin serves {scheme}:// URLs (installed: "
            f"{', '.join(sorted(known)) or 'none'}){hint}"
        )


class StorageRegistry:
    """Builds and caches one backend per (scheme, options)."""

    def __init__(self, entries: dict[str, StorageEntry], options: dict[str, Any] | None = None):
        self.entries = entries
        self.options = options or {}
        self._cache: dict[tuple[str, str], Storage] = {}
        self._lock = threading.Lock()

    def with_options(self, options: dict[str, Any]) -> StorageRegistry:
        """A registry whose backends are built with ``options`` (region, endpoint...)."""
        return StorageRegistry(self.entries, {**self.options, **options})

    def check_scheme(self, url: str) -> None:
        scheme = scheme_of(url)
        if scheme not in self.entries:
            raise UnknownScheme(scheme, list(self.entries))

    def for_url(self, url: str) -> Storage:
        scheme = scheme_of(url)
        key = (scheme, json.dumps(self.options, sort_keys=True, default=str))
        with self._lock:
            if key not in self._cache:
                if scheme not in self.entries:
                    raise UnknownScheme(scheme, list(self.entries))
                self._cache[key] = completed(self.entries[scheme].factory(**self.options))
            return self._cache[key]
