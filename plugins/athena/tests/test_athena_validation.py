"""Bad input is a validation error naming the field, before any query is sent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lakeroutine.errors import RoutineError

TABLE = {
    "name": "sales",
    "columns": {"name": "string", "amount": "double"},
    "location": "s3://lake/sales/",
}


def create(table: dict[str, Any], **args: Any) -> dict[str, Any]:
    return {"task": "create_table", "args": {"table": table, **args}}


@pytest.mark.parametrize(
    ("task", "field", "message"),
    [
        (
            create({**TABLE, "columns": {"amount": "money"}}),
            "args.table.columns.amount",
            "unknown column type 'money'",
        ),
        (create({**TABLE, "name": "sales; DROP TABLE x"}), "args.table.name", "unsafe name"),
        (create({**TABLE, "columns": {"a`b": "int"}}), "args.table.columns", "unsafe column name"),
        (
            create({**TABLE, "location": "lake/sales/"}),
            "args.table.location",
            "Athena tables live on S3",
        ),
        (create({**TABLE, "location": "s3:///sales/"}), "args.table.location", "no bucket"),
        (create(TABLE, if_exists="maybe"), "args.if_exists", "skip"),
        ({"task": "run_query", "args": {"sql": "  -- nothing\n ; "}}, "args.sql", "SQL is empty"),
        ({"task": "run_query", "args": {}}, "args", "exactly one of 'sql' or 'sql_file'"),
        (  # json.loads reads NaN; sent as a parameter it would be the bare word nan
            {"task": "run_query", "args": {"sql": "SELECT ?", "parameters": [float("nan")]}},
            "args.parameters",
            "nan has no SQL literal",
        ),
        (
            {"task": "run_query", "args": {"sql": "SELECT 1", "output": "rows.xlsx"}},
            "args.output",
            "must end with",
        ),
        ({"task": "drop_table", "args": {"table": "x y"}}, "args.table", "unsafe name"),
        (
            {"task": "ctas", "args": {"table": "t", "sql": "SELECT 1", "location": "out/"}},
            "args.location",
            "s3://",
        ),
        (
            {
                "task": "add_partitions",
                "args": {"table": "t", "partitions": [{"values": {"dt": "../etc"}}]},
            },
            "args.partitions[0].values",
            "cannot be a folder name",
        ),
        (
            {
                "task": "add_partitions",
                "args": {"table": "t", "partitions": [{"values": {"dt')--": "x"}}]},
            },
            "args.partitions[0].values.dt')--.[key]",
            "unsafe name",
        ),
        (
            {
                "task": "add_partitions",
                "args": {
                    "table": "t",
                    "partitions": [{"values": {"dt": "1"}}, {"values": {"day": "2"}}],
                },
            },
            "args.partitions",
            "partition 1 has keys ['day'], the first has ['dt']",
        ),
        (
            {"task": "add_partitions", "args": {"table": "t", "partitions": []}},
            "args.partitions",
            "at least 1",
        ),
    ],
)
def test_bad_args_are_refused_before_anything_is_sent(
    athena: Any, run, task: dict, field: str, message: str
) -> None:
    with pytest.raises(RoutineError) as info:
        run(athena.routine(task))
    error = info.value
    assert (error.executor, error.field) == ("AthenaExecutor", field), str(error)
    assert message in error.message
    assert athena.executions == []


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"database": "my-db"}, "params.database", "unsafe name"),
        ({"output_location": "/tmp/results"}, "params.output_location", "s3://"),
        ({"workgroup": "a b"}, "params.workgroup", "not a valid name"),
        ({"poll_interval_s": 0}, "params.poll_interval_s", "greater than 0"),
        ({"endpoint_url": "localhost:5000"}, "params.endpoint_url", "http"),
        ({"surprise": True}, "params", "unknown field 'surprise'"),
    ],
)
def test_bad_params_are_refused(athena: Any, run, params: dict, field: str, message: str) -> None:
    with pytest.raises(RoutineError) as info:
        run(athena.routine("create_database", **params))
    assert info.value.field == field and message in info.value.message
    assert athena.executions == []


def test_missing_results_bucket_and_workgroup_found_before_any_query(athena: Any, run) -> None:
    with pytest.raises(RoutineError) as info:
        run(athena.routine("create_database", output_location="s3://no-such-bucket/x/"))
    assert info.value.field == "params.output_location"
    assert "bucket 'no-such-bucket' of output_location does not exist" in info.value.message
    with pytest.raises(RoutineError) as info:
        run(athena.routine("create_database", workgroup="nope"))
    assert info.value.field == "params.workgroup"
    athena.backend.work_groups["primary"].state = "DISABLED"  # Athena refuses its queries
    with pytest.raises(RoutineError) as info:
        run(athena.routine("create_database"))
    assert info.value.field == "params.workgroup"
    assert info.value.message == "Athena workgroup 'primary': disabled"
    athena.backend.work_groups["primary"].state = "ENABLED"
    with pytest.raises(RoutineError) as info:
        run(athena.routine("create_database", output_location=None))
    assert "workgroup 'primary' sets none" in info.value.message
    assert athena.executions == []


def test_validate_imports_neither_boto3_nor_duckdb(tmp_path: Path) -> None:
    """Offline (no AWS preflight), validate imports no heavy library."""
    routine = {
        "routine_name": "lazy",
        "executors": {
            "AthenaExecutor": {
                "params": {"database": "lake", "output_location": "s3://r/"},
                "tasks": [{"task": "create_table", "args": {"table": TABLE}}],
            },
            "DuckDBExecutor": {
                "params": {"database": "lake.duckdb"},
                "tasks": [{"task": "run_query", "args": {"sql": "SELECT 1"}}],
            },
        },
    }
    path = tmp_path / "routine.json"
    path.write_text(json.dumps(routine))
    code = (
        "import sys\n"
        "from lakeroutine.cli import main\n"
        f"assert main(['validate', {str(path)!r}, '--offline']) == 0\n"
        "heavy = [m for m in ('boto3', 'botocore', 'duckdb', 'pyarrow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_endpoint_url_param_reaches_the_emulator_without_the_environment(
    athena: Any, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    result = run(athena.routine("create_database", endpoint_url=athena.endpoint))
    assert result.status == "succeeded", result.tasks[0].error
    assert athena.queries == ["CREATE DATABASE IF NOT EXISTS `lake`"]
