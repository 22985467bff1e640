"""The plugin entry point: registers the ``sftp://`` storage; asyncssh is imported lazily,
when a routine first uses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lakeroutine import hookimpl


def sftp_storage(**options: Any) -> Any:
    """Build a :class:`lakeroutine_sftp.storage.SftpStorage` (imported only when used)."""
    from lakeroutine_sftp.storage import SftpStorage

    return SftpStorage(**options)


@hookimpl
def register_storages(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register this plugin's storage scheme."""
    register("sftp", sftp_storage)
