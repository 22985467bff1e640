"""Registers the AthenaExecutor. boto3 is imported only when a task runs."""

from __future__ import annotations

from collections.abc import Callable

from lakeroutine import hookimpl


@hookimpl
def register_executors(register: Callable[..., None]) -> None:
    register("lakeroutine_athena.executor:AthenaExecutor", name="AthenaExecutor")
