"""The plugin entry point: registers the ``s3://`` (and ``s3a://``) storage; boto3 is
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
