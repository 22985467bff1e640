"""The JSON Schema of routine files, with the params and task args of every installed
executor, so editors can complete and check routines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeroutine.plugins import Registry


VARIABLE = {"type": "string", "pattern": r"^\$\{[^{}]+\}$", "description": "a ${variable}"}


def _hoisted(schema: dict[str, Any], prefix: str, defs: dict[str, Any]) -> dict[str, Any]:
    """A model's schema with its ``$defs`` moved into the document's (named ``prefix`` +
    name, so two models' ``Partition`` do not collide) and its ``$ref``s rewritten."""
    local = schema.pop("$defs", {})

    def rewrite(node: Any) -> Any:
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = f"#/$defs/{prefix}{value[len('#/$defs/') :]}"
            elif key == "properties" and isinstance(value, dict):  # any field: a ${variable}
                out[key] = {
                    name: {"anyOf": [rewrite(sub), VARIABLE]} for name, sub in value.items()
                }
            else:
                out[key] = rewrite(value)
        return out

    for name, definition in local.items():
        defs[f"{prefix}{name}"] = rewrite(definition)
    return rewrite(schema)


def _task_items(registry: Registry, executor_name: str, defs: dict[str, Any]) -> dict[str, Any]:
    tasks = registry.tasks_of(executor_name)
    variants: list[dict[str, Any]] = [{"enum": sorted(tasks)}]
    for name, definition in sorted(tasks.items()):
        args_schema: dict[str, Any] = {"type": "object", "maxProperties": 0}
        if definition.args_model is not None:
            args_schema = _hoisted(
                definition.args_model.model_json_schema(), f"{executor_name}.{name}.", defs
            )
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


def _block(registry: Registry, name: str, explicit: bool, defs: dict[str, Any]) -> dict[str, Any]:
    entry = registry.executors[name]
    properties: dict[str, Any] = {
        "description": {"type": "string"},
        "params": _hoisted(entry.cls.Params.model_json_schema(), f"{name}.", defs),
        "tasks": {"type": "array", "items": _task_items(registry, name, defs)},
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
    defs: dict[str, Any] = {}
    by_name = {name: _block(registry, name, explicit=False, defs=defs) for name in names}
    explicit = [_block(registry, name, explicit=True, defs=defs) for name in names]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "lakeroutine routine",
        "type": "object",
        "properties": {
            "$schema": {"type": "string"},
            "routine_name": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "vars": {"type": "object"},
            "state": {"type": "string"},
            "state_dir": {"type": "string"},
            "executors": {
                "type": "object",
                "properties": by_name,
                "additionalProperties": {"anyOf": explicit},
            },
        },
        "required": ["routine_name", "executors"],
        "additionalProperties": False,
        "$defs": defs,
    }
