"""Entry point of lakeroutine-glue: registers the GlueExecutor (boto3 loads lazily)."""

from __future__ import annotations

from collections.abc import Callable

from lakeroutine import hookimpl


@hookimpl
def register_executors(register: Callable[..., None]) -> None:
    register("lakeroutine_glue.executor:GlueExecutor", name="GlueExecutor")
