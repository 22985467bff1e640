"""The plugin entry point: registers the ``gs://`` storage; google-cloud-storage is imported
lazily, when a routine first uses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lakeroutine import hookimpl


def gcs_storage(**options: Any) -> Any:
    """Build a :class:`lakeroutine_gcs.storage.GcsStorage` (imported only when used)."""
    from lakeroutine_gcs.storage import GcsStorage

    return GcsStorage(**options)


@hookimpl
def register_storages(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register this plugin's storage scheme."""
    register("gs", gcs_storage)
