"""Storage backends: the protocol, the registry by URL scheme, and local folders."""

from lakeroutine.storage.base import FileInfo, Storage, StorageError

__all__ = ["FileInfo", "Storage", "StorageError"]
