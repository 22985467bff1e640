"""The plugin entry point: registers the ``az://`` storage; azure-storage-blob is imported
lazily, when a routine first uses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lakeroutine import hookimpl


def azure_storage(**options: Any) -> Any:
    """Build a :class:`lakeroutine_azure.storage.AzureStorage` (imported only when used)."""
    from lakeroutine_azure.storage import AzureStorage

    return AzureStorage(**options)


@hookimpl
def register_storages(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register this plugin's storage scheme."""
    register("az", azure_storage)
