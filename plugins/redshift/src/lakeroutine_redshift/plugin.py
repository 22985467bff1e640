"""Entry point of lakeroutine-redshift: registers the RedshiftExecutor (boto3 loads lazily)."""

from __future__ import annotations

from collections.abc import Callable

from lakeroutine import hookimpl


@hookimpl
def register_executors(register: Callable[[type], None]) -> None:
    from lakeroutine_redshift.executor import RedshiftExecutor

    register(RedshiftExecutor)
