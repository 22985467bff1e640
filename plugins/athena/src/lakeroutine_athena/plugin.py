"""Registers the AthenaExecutor. boto3 is imported only when a task runs."""

from __future__ import annotations

from collections.abc import Callable

from lakeroutine import hookimpl


@hookimpl
def register_executors(register: Callable[[type], None]) -> None:
    from lakeroutine_athena.executor import AthenaExecutor

    register(AthenaExecutor)
