"""Routine files the Airflow tests render: written into a test's folder as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write(folder: Path, routine: dict[str, Any], name: str = "routine.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(routine, indent=2), encoding="utf-8")
    return path


def duckdb_routine(folder: Path, *tasks: Any, name: str = "duck") -> dict[str, Any]:
    """A DuckDB block (no AWS needed) running ``tasks``, its state in ``folder``."""
    return {
        "routine_name": name,
        "description": "DuckDB queries for the Airflow tests",
        "state_dir": str(folder / "state"),
        "vars": {"day": "${run_date}"},
        "executors": {
            "duck": {
                "executor": "DuckDBExecutor",
                "params": {"database": "lake.duckdb"},
                "tasks": list(tasks),
            }
        },
    }


def query(sql: str, *parameters: Any, **extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"sql": sql}
    if parameters:
        args["parameters"] = list(parameters)
    return {"task": "run_query", "args": args, **extra}
