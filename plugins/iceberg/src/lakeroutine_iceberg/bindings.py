"""The Iceberg tasks bound to each executor family, importing pyiceberg only when one runs.

Each binding is ``function(executor, args, ctx)``: it builds the executor's
:class:`~lakeroutine_iceberg.targets.Target` (the twin's SQL catalog, or Glue's) and calls
the shared task. The args models come from :mod:`lakeroutine.sql.iceberg_tasks` (cheap).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from lakeroutine.sql import iceberg_tasks as models
from lakeroutine.sql.checks import BranchCheckArgs

from lakeroutine_iceberg.plugin import DOCS as _DOCS

TASKS: dict[str, tuple[str, type[Any]]] = {
    "iceberg_create_table": ("tasks:create_table", models.CreateIcebergArgs),
    "iceberg_append": ("tasks:append", models.AppendArgs),
    "iceberg_merge": ("tasks:merge", models.MergeArgs),
    "iceberg_overwrite": ("tasks:overwrite", models.OverwriteArgs),
    "iceberg_evolve": ("tasks:evolve", models.EvolveArgs),
    "iceberg_maintain": ("maintenance:maintain", models.MaintainArgs),
    "iceberg_query": ("tasks:query", models.IcebergQueryArgs),
    "iceberg_check": ("audit:check", BranchCheckArgs),
}
"""Task name -> (module:function of the shared logic, args model on the twin)."""


_S3_MODELS: dict[type[Any], type[Any]] = {}


def s3_model(model: type[Any]) -> type[Any]:
    """The args model with ``s3://`` locations (for Glue and Athena)."""
    if not hasattr(model, "location_kind"):
        return model
    if model not in _S3_MODELS:
        _S3_MODELS[model] = models.s3_variant(model, f"S3{model.__name__}")
    return _S3_MODELS[model]


def __getattr__(name: str) -> type[Any]:
    """``S3<Model>``: the s3:// variant of a task's args model, named for lazy registration."""
    for _path, model in TASKS.values():
        if name == f"S3{model.__name__}":
            return s3_model(model)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _shared(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(f"lakeroutine_iceberg.{module}"), name)


def bind(task_name: str, make_target: str) -> Callable[..., Any]:
    """``function(executor, args, ctx)`` running the shared task on the executor's target
    (``make_target`` is a ``targets`` function name: twin_target or glue_target)."""
    path = TASKS[task_name][0]

    def run(executor: Any, args: Any, ctx: Any) -> Any:
        target = _shared(f"targets:{make_target}")(executor)
        return _shared(path)(target, args, ctx)

    run.__name__ = task_name
    run.__doc__ = _DOCS[task_name]
    return run


def bind_athena(task_name: str) -> Callable[..., Any]:
    """``function(executor, args, ctx)`` running the task as Athena SQL."""

    def run(executor: Any, args: Any, ctx: Any) -> Any:
        return _shared(f"athena:{task_name}")(executor, args, ctx)

    run.__name__ = task_name
    run.__doc__ = _DOCS[task_name] + " (Athena SQL)"
    return run


def _bind_redshift(task_name: str, doc: str) -> Callable[..., Any]:
    def run(executor: Any, args: Any, ctx: Any) -> Any:
        return _shared(f"redshift:{task_name}")(executor, args, ctx)

    run.__name__ = task_name
    run.__doc__ = doc
    return run


REDSHIFT_TASKS: dict[str, tuple[Callable[..., Any], type[Any]]] = {
    "iceberg_external_schema": (
        _bind_redshift(
            "iceberg_external_schema",
            "Map a Glue database of Iceberg tables to a Redshift external schema.",
        ),
        models.ExternalSchemaArgs,
    ),
    "iceberg_query": (
        _bind_redshift("iceberg_query", "Query Iceberg tables through an external schema."),
        models.IcebergQueryArgs,
    ),
}
"""The tasks that apply to Redshift: function and args model."""
