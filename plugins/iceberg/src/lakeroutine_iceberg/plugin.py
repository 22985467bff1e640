"""Registers the Iceberg tasks onto the DuckDB twin, Glue and Athena executors (each only
when its plugin is installed). Nothing heavy is imported here."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from lakeroutine import hookimpl

_OWNERS = {
    "DuckDBExecutor": "lakeroutine_duckdb",
    "GlueExecutor": "lakeroutine_glue",
    "AthenaExecutor": "lakeroutine_athena",
}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@hookimpl
def register_tasks(register: Callable[..., None]) -> None:
    from lakeroutine_iceberg.bindings import TASKS, bind, bind_athena, s3_model

    for task_name, (_path, model) in TASKS.items():
        if _installed(_OWNERS["DuckDBExecutor"]):
            register("DuckDBExecutor", task_name, bind(task_name, "twin_target"), model)
        if _installed(_OWNERS["GlueExecutor"]):
            register("GlueExecutor", task_name, bind(task_name, "glue_target"), s3_model(model))
        if _installed(_OWNERS["AthenaExecutor"]):
            register("AthenaExecutor", task_name, bind_athena(task_name), s3_model(model))
