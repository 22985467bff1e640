"""The JSON Schema of routine files, with the params and task args of every installed
executor, so editors can complete and check routines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeroutine.plugins import Registry


def _task_items(registry: Registry, executor_name: str) -> dict[str, Any]:
    tasks = registry.tasks_of(executor_name)
    variants: list[dict[str, Any]] = [{"enum": sorted(tasks)}]
    for name, definition in sorted(tasks.items()):
        args_schema: dict[str, Any] = {"type": "object", "maxProperties": 0}
        if definition.args_model is not None:
            args_schema = definition.args_model.model_json_schema()
        variants.append(
            {
                "type": "object",
                "description": definition.doc,
                "properties": {
                    "task": {"const": name},
                    "args": args_schema,
                    "retries": {"type": "integer", "minimum": 0},
                    "retry_delay_s": {"type": "number", "minimum": 0},
                    "timeout_s": {"type": "number", "exclusiveMinimum": 0},
                },
                "required": ["task"],
                "additionalProperties": False,
            }
        )
    return {"anyOf": variants}


def _block(registry: Registry, name: str, explicit: bool) -> dict[str, Any]:
    entry = registry.executors[name]
    properties: dict[str, Any] = {
        "description": {"type": "string"},
        "params": entry.cls.Params.model_json_schema(),
        "tasks": {"type": "array", "items": _task_items(registry, name)},
    }
    required = ["executor"] if explicit else []
    properties["executor"] = {"const": name}
    return {
        "type": "object",
        "description": (entry.cls.__doc__ or "").strip().split("\n\n")[0],
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def routine_schema(registry: Registry) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for routine files."""
    names = sorted(registry.executors)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "lakeroutine routine",
        "type": "object",
        "properties": {
            "$schema": {"type": "string"},
            "routine_name": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "vars": {"type": "object"},
            "state_dir": {"type": "string"},
            "executors": {
                "type": "object",
                "properties": {name: _block(registry, name, explicit=False) for name in names},
                "additionalProperties": {
                    "anyOf": [_block(registry, name, explicit=True) for name in names]
                },
            },
        },
        "required": ["routine_name", "executors"],
        "additionalProperties": False,
    }
