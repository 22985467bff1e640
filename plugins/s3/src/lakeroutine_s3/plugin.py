"""The plugin entry point: registers the ``s3://`` (and ``s3a://``) storage and the ``s3://``
state store; boto3 is
imported lazily, when a routine first uses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lakeroutine import hookimpl


def s3_storage(**options: Any) -> Any:
    """Build an :class:`lakeroutine_s3.storage.S3Storage` (imported only when used)."""
    from lakeroutine_s3.storage import S3Storage

    return S3Storage(**options)


@hookimpl
def register_storages(register: Callable[[str, Callable[..., Any]], None]) -> None:
    register("s3", s3_storage)
    register("s3a", s3_storage)  # Hadoop/Spark's name for the same buckets


def s3_state_store(url: str, *, routine: str) -> Any:
    """Build an :class:`lakeroutine_s3.state.S3StateStore` (imported only when used)."""
    from lakeroutine_s3.state import open_s3_state

    return open_s3_state(url, routine=routine)


@hookimpl
def register_state_stores(register: Callable[[str, Callable[..., Any]], None]) -> None:
    register("s3", s3_state_store)
