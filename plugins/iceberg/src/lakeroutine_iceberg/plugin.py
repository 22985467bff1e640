"""Registers the Iceberg tasks onto the DuckDB twin, Glue and Athena executors, and the
ones that apply to Redshift onto it (each only when its plugin is installed). Nothing
heavy is imported here."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from lakeroutine import hookimpl

_OWNERS = {
    "DuckDBExecutor": "lakeroutine_duckdb",
    "GlueExecutor": "lakeroutine_glue",
    "AthenaExecutor": "lakeroutine_athena",
    "RedshiftExecutor": "lakeroutine_redshift",
}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _register_if_loaded(register: Callable[..., None], executor: str, *args: object) -> bool:
    """Register onto ``executor`` if its plugin is installed and loaded (a user may block
    it with LAKEROUTINE_DISABLE_PLUGINS); any other refusal is raised."""
    from lakeroutine.errors import PluginError

    if not _installed(_OWNERS[executor]):
        return False
    try:
        register(executor, *args)
    except PluginError as exc:
        if "which no plugin registered" in str(exc):
            return False
        raise
    return True


@hookimpl
def register_tasks(register: Callable[..., None]) -> None:
    from lakeroutine_iceberg.bindings import REDSHIFT_TASKS, TASKS, bind, bind_athena, s3_model

    for task_name, (_path, model) in TASKS.items():
        _register_if_loaded(
            register, "DuckDBExecutor", task_name, bind(task_name, "twin_target"), model
        )
        glue = bind(task_name, "glue_target")
        _register_if_loaded(register, "GlueExecutor", task_name, glue, s3_model(model))
        athena = bind_athena(task_name)
        _register_if_loaded(register, "AthenaExecutor", task_name, athena, s3_model(model))
    for task_name, (function, model) in REDSHIFT_TASKS.items():
        _register_if_loaded(register, "RedshiftExecutor", task_name, function, model)
