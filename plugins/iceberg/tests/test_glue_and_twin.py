"""Points 5 and 6: one list of Iceberg tasks runs on the DuckDB twin and, through
pyiceberg's Glue catalog, against moto's Glue and S3 server: only the executor, its params
and the lake root change. Both end with the same rows."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from iceberg_support import SPEC, stage

TASKS: list[Any] = [
    {"task": "iceberg_create_table", "args": {"table": {**SPEC, "location": "${tables}/events/"}}},
    {"task": "iceberg_append", "args": {"table": "events", "files": "${lake}/day1/"}},
    {
        "task": "iceberg_merge",
        "args": {"table": "events", "files": "${lake}/fixes/", "keys": ["id"]},
    },
    {"task": "iceberg_evolve", "args": {"table": "events", "add_columns": {"note": "string"}}},
    {
        "task": "iceberg_maintain",
        "args": {
            "table": "events",
            "expire_older_than_days": 0,
            "remove_orphans_older_than_hours": 0,
        },
    },
    {
        "task": "iceberg_query",
        "args": {"sql": "SELECT count(*) AS n, sum(amount) AS total FROM events"},
    },
]


def routine(executor: str, params: dict[str, Any], lake: str, tables: str) -> dict[str, Any]:
    return {
        "routine_name": "iceberg_twin",
        "vars": {"lake": lake, "tables": tables},
        "executors": {"events": {"executor": executor, "params": params, "tasks": TASKS}},
    }


def staged(folder: Path) -> None:
    stage(folder / "day1", "a.parquet", range(0, 50), day=1)
    stage(folder / "day1", "b.parquet", range(50, 80), day=2, schema="other")
    stage(folder / "fixes", "f.parquet", range(70, 90), day=2, amount=3.0)


def test_same_tasks_on_the_twin_and_on_glue(tmp_path: Path, run, moto_endpoint) -> None:
    import boto3

    staged(tmp_path / "local")
    local = tmp_path / "twin.json"
    local.write_text(
        json.dumps(
            routine(
                "DuckDBExecutor",
                {"database": "lake.duckdb", "schema": "sales"},
                "local",
                "warehouse",
            )
        )
    )
    twin = run(local)
    assert twin.ok, twin

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake")
    for path in (tmp_path / "local").rglob("*.parquet"):
        key = "staged/" + path.relative_to(tmp_path / "local").as_posix()
        s3.upload_fileobj(io.BytesIO(path.read_bytes()), "lake", key)
    aws = tmp_path / "aws.json"
    aws.write_text(
        json.dumps(
            routine(
                "GlueExecutor",
                {"database": "sales", "region_name": "us-east-1", "endpoint_url": moto_endpoint},
                "s3://lake/staged",
                "s3://lake/tables",
            )
        )
    )
    cloud = run(aws)
    assert cloud.ok, cloud

    assert twin.tasks[-1].output["preview"] == cloud.tasks[-1].output["preview"]
    assert twin.tasks[-1].output["preview"] == [{"n": 90, "total": 70 * 1.0 + 20 * 3.0}]
    # Glue holds an Iceberg table whose metadata is on S3; the merge's commit is tagged.
    glue = boto3.client("glue")
    table = glue.get_table(DatabaseName="sales", Name="events")["Table"]
    assert table["Parameters"]["table_type"].upper() == "ICEBERG"
    assert table["Parameters"]["metadata_location"].startswith("s3://lake/tables/events/")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix="tables/")["Contents"]]
    assert any(k.endswith(".metadata.json") for k in keys)
    assert cloud.tasks[1].output["registered_files"] == 1  # a.parquet, by reference on S3
