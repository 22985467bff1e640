"""The built-in plugin: local folders as storage and as state (SQLite), and the
StagingExecutor.

Registered through the same hooks as any third-party plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lakeroutine.hookspecs import hookimpl


@hookimpl
def register_storages(register: Callable[[str, Callable[..., Any]], None]) -> None:
    from lakeroutine.storage.local import LocalStorage

    register("file", LocalStorage)


@hookimpl
def register_executors(register: Callable[..., None]) -> None:
    register("lakeroutine.staging.executor:StagingExecutor", name="StagingExecutor")


@hookimpl
def register_state_stores(register: Callable[[str, Callable[..., Any]], None]) -> None:
    from lakeroutine.state.sqlite import open_local

    register("file", open_local)
