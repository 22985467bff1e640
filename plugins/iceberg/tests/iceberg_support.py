"""Helpers of the Iceberg tests: staged Parquet files, twin routines, reading the tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SPEC: dict[str, Any] = {
    "name": "events",
    "format": "iceberg",
    "columns": {"id": "bigint", "ts": "timestamp", "kind": "string", "amount": "double"},
    "partitioned_by": ["day(ts)"],
    "identifier_columns": ["id"],
    "sort_order": ["ts"],
    "properties": {"commit.retry.num-retries": "10"},
}


def stage(
    folder: Path, name: str, ids: range, *, day: int = 1, amount: float = 1.0, schema: str = "match"
) -> Path:
    """One staged Parquet file of rows ``ids`` on 2024-01-``day``; ``schema`` "match" writes
    the table's types, "other" writes ``amount`` as text and ``id`` as int32 (to rewrite)."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    ts = [dt.datetime(2024, 1, day, 12) for _ in ids]
    if schema == "match":  # the key column required, as the table has it
        arrow_schema = pa.schema(
            [
                pa.field("id", pa.int64(), nullable=False),
                pa.field("ts", pa.timestamp("us")),
                pa.field("kind", pa.string()),
                pa.field("amount", pa.float64()),
            ]
        )
        table = pa.table(
            {
                "id": list(ids),
                "ts": ts,
                "kind": [f"k{i % 3}" for i in ids],
                "amount": [amount] * len(ids),
            },
            schema=arrow_schema,
        )
    else:
        table = pa.table(
            {
                "id": pa.array(list(ids), pa.int32()),
                "ts": pa.array(ts, pa.timestamp("us")),
                "kind": pa.array([f"k{i % 3}" for i in ids], pa.string()),
                "amount": pa.array([amount] * len(ids), pa.float32()),
            }
        )
    path = folder / name
    pq.write_table(table, path)
    return path


def twin_routine(root: Path, tasks: list[Any], name: str = "routine.json") -> Path:
    routine = {
        "routine_name": "ice",
        "executors": {
            "lake": {
                "executor": "DuckDBExecutor",
                "params": {"database": "lake.duckdb", "schema": "sales"},
                "tasks": tasks,
            }
        },
    }
    path = root / name
    path.write_text(json.dumps(routine, indent=2))
    return path


def twin_table(root: Path, table: str = "events", namespace: str = "sales") -> Any:
    """The pyiceberg table of a twin under ``root`` (as a reader outside lakeroutine sees it)."""
    from lakeroutine_iceberg.targets import twin_catalog

    return twin_catalog(root / "lake.duckdb").load_table((namespace, table))


def rows(table: Any) -> list[dict[str, Any]]:
    table.refresh()
    return sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
