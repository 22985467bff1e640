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


MODELS = {
    "iceberg_create_table": "lakeroutine.sql.iceberg_tasks:CreateIcebergArgs",
    "iceberg_append": "lakeroutine.sql.iceberg_tasks:AppendArgs",
    "iceberg_merge": "lakeroutine.sql.iceberg_tasks:MergeArgs",
    "iceberg_overwrite": "lakeroutine.sql.iceberg_tasks:OverwriteArgs",
    "iceberg_evolve": "lakeroutine.sql.iceberg_tasks:EvolveArgs",
    "iceberg_maintain": "lakeroutine.sql.iceberg_tasks:MaintainArgs",
    "iceberg_query": "lakeroutine.sql.iceberg_tasks:IcebergQueryArgs",
    "iceberg_check": "lakeroutine.sql.checks:BranchCheckArgs",
}
"""Task name -> its args model on the twin (as ``bindings.TASKS``): named, not imported, so
loading the plugin builds nothing a routine does not use."""

REDSHIFT_MODELS = {
    "iceberg_external_schema": (
        "lakeroutine.sql.iceberg_tasks:ExternalSchemaArgs",
        "Map a Glue database of Iceberg tables to a Redshift external schema.",
    ),
    "iceberg_query": (
        "lakeroutine.sql.iceberg_tasks:IcebergQueryArgs",
        "Query Iceberg tables through an external schema.",
    ),
}
"""The tasks that apply to Redshift (as ``bindings.REDSHIFT_TASKS``): args model and doc."""

NOT_ON_ATHENA = {"iceberg_check"}
"""Tasks that read through pyiceberg only (Athena's binding runs SQL)."""

DOCS = {
    "iceberg_create_table": "Create an Iceberg table from its spec (skip when it matches).",
    "iceberg_append": "Append staged Parquet exactly once (by reference where it matches).",
    "iceberg_merge": "Upsert staged files or a query's rows on key columns, exactly once.",
    "iceberg_overwrite": "Replace the partitions the source has rows in, exactly once.",
    "iceberg_evolve": "Add, rename, widen columns; change partitioning or sort order.",
    "iceberg_maintain": "Compact small files, expire snapshots, remove orphan files.",
    "iceberg_query": "Query Iceberg tables, with FOR VERSION AS OF time travel.",
    "iceberg_check": "Check a branch's head; publish it by fast-forwarding main (WAP).",
}


def _deferred(
    task_name: str, binder: str, *target: str, doc: str | None = None
) -> Callable[..., object]:
    """``function(executor, args, ctx)`` that imports the task's binding when it runs."""

    def run(executor: object, args: object, ctx: object) -> object:
        from lakeroutine_iceberg import bindings

        return getattr(bindings, binder)(task_name, *target)(executor, args, ctx)

    run.__name__ = task_name
    athena = " (Athena SQL)" if binder == "bind_athena" else ""
    run.__doc__ = doc or DOCS[task_name] + athena
    return run


@hookimpl
def register_tasks(register: Callable[..., None]) -> None:
    for task_name, model in MODELS.items():
        twin = _deferred(task_name, "bind", "twin_target")
        _register_if_loaded(register, "DuckDBExecutor", task_name, twin, model)
        s3_args = f"lakeroutine_iceberg.bindings:S3{model.partition(':')[2]}"  # s3:// places
        glue = _deferred(task_name, "bind", "glue_target")
        _register_if_loaded(register, "GlueExecutor", task_name, glue, s3_args)
        if task_name in NOT_ON_ATHENA:
            continue
        athena = _deferred(task_name, "bind_athena")
        _register_if_loaded(register, "AthenaExecutor", task_name, athena, s3_args)
    for task_name, (model, doc) in REDSHIFT_MODELS.items():
        redshift = _deferred(task_name, "_bind_redshift", doc, doc=doc)
        _register_if_loaded(register, "RedshiftExecutor", task_name, redshift, model)
