"""Write-audit-publish with an Iceberg branch as the audit place, through real routine runs
on the DuckDB twin and on moto's Glue and S3: ``iceberg_append`` with ``branch`` commits
where no reader of main looks, ``iceberg_check`` audits the branch's head in one query and
fast-forwards main only when no ``error`` check failed; a failed audit leaves main as it was
and names the check."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from lakeroutine.errors import RoutineError

sys.path.insert(0, os.path.dirname(__file__))

from iceberg_support import SPEC, rows, stage, twin_routine, twin_table

CHECKS = [
    {"kind": "row_count", "min": 1},
    {"kind": "unique", "column": "id"},
    {"kind": "range", "column": "amount", "min": 0, "max": 100},
    {"kind": "schema", "columns": {"id": "bigint", "amount": "double"}},
]


def audit(**args: object) -> dict:
    fields = {"table": "events", "branch": "wap", "checks": CHECKS, "fast_forward": True}
    return {"task": "iceberg_check", "args": {**fields, **args}}


def append(folder: str, **args: object) -> dict:
    return {"task": "iceberg_append", "args": {"table": "events", "files": folder, **args}}


def test_a_passing_audit_fast_forwards_main_to_the_branch(tmp_path: Path, run) -> None:
    stage(tmp_path / "staged/a", "part-0.parquet", range(0, 10), day=1)
    stage(tmp_path / "staged/b", "part-0.parquet", range(10, 15), day=2)
    create = {"task": "iceberg_create_table", "args": {"table": SPEC}}
    result = run(twin_routine(tmp_path, [create, append("staged/a/")]))
    assert result.ok, result
    before = twin_table(tmp_path).current_snapshot().snapshot_id

    routine = twin_routine(tmp_path, [append("staged/b/", branch="wap"), audit()], name="wap.json")
    result = run(routine)

    assert result.ok, [t.error for t in result.tasks]
    check = result.tasks[1].output
    assert check["rows"] == 15 and check["failed"] == 0 and check["queries"] == 3
    assert check["published"]["already_published"] is False
    table = twin_table(tmp_path)
    assert [r["id"] for r in rows(table)] == list(range(15))
    snapshot = table.current_snapshot()
    assert snapshot.snapshot_id == check["snapshot_id"]
    assert snapshot.parent_snapshot_id == before  # a fast-forward: main's history kept


def test_the_branch_is_unseen_until_published_and_a_failed_audit_publishes_nothing(
    tmp_path: Path, run
) -> None:
    stage(tmp_path / "staged/a", "part-0.parquet", range(0, 10), day=1)
    stage(tmp_path / "staged/bad", "part-0.parquet", range(5, 8), day=2, amount=500.0)
    create = {"task": "iceberg_create_table", "args": {"table": SPEC}}
    assert run(twin_routine(tmp_path, [create, append("staged/a/")])).ok
    main_before = twin_table(tmp_path).current_snapshot().snapshot_id

    written = run(twin_routine(tmp_path, [append("staged/bad/", branch="wap")], name="w.json"))
    assert written.ok, written
    assert [r["id"] for r in rows(twin_table(tmp_path))] == list(range(10))  # main unchanged

    result = run(twin_routine(tmp_path, [audit()], name="audit.json"))

    assert result.status == "failed"
    task = result.tasks[0]
    assert "unique_id" in task.error and "range_amount" in task.error
    by_name = {o["check"]: o for o in task.output["checks"]}
    assert by_name["unique_id"]["failing_rows"] == 3
    assert by_name["range_amount"]["failing_rows"] == 3
    assert by_name["schema"]["status"] == "passed"
    assert "published" not in task.output
    table = twin_table(tmp_path)
    assert table.current_snapshot().snapshot_id == main_before  # nothing published
    assert [r["id"] for r in rows(table)] == list(range(10))


def test_main_that_moved_is_not_overwritten(tmp_path: Path, run) -> None:
    stage(tmp_path / "staged/a", "part-0.parquet", range(0, 10), day=1)
    stage(tmp_path / "staged/b", "part-0.parquet", range(10, 12), day=2)
    stage(tmp_path / "staged/c", "part-0.parquet", range(20, 22), day=3)
    create = {"task": "iceberg_create_table", "args": {"table": SPEC}}
    tasks = [create, append("staged/a/"), append("staged/b/", branch="wap"), append("staged/c/")]
    assert run(twin_routine(tmp_path, tasks)).ok  # main moved after the branch was made

    result = run(twin_routine(tmp_path, [audit()], name="audit.json"))

    assert result.status == "failed"
    assert "not a fast-forward" in result.tasks[0].error
    ids = [r["id"] for r in rows(twin_table(tmp_path))]
    assert ids == [*range(10), 20, 21]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"checks": [{"kind": "not_null", "column": "id", "quarantine": True}]},
         "quarantine is not offered on an Iceberg branch"),
        ({"branch": "main"}, "fast_forward publishes a branch other than main"),
        ({"publish": {"table": "other", "location": "x/"}}, "published by fast_forward"),
    ],
)  # fmt: skip
def test_bad_audits_are_refused_before_anything_runs(tmp_path: Path, run, args, message) -> None:
    with pytest.raises(RoutineError) as caught:
        run(twin_routine(tmp_path, [audit(**args)]))
    text = str(caught.value)
    assert "'iceberg_check'" in text and message in text, text
    assert not (tmp_path / "lake.duckdb").exists()


def test_the_same_audit_on_glue_and_s3(tmp_path: Path, run, moto_endpoint) -> None:
    import io
    import json

    import boto3

    stage(tmp_path / "local/a", "part-0.parquet", range(0, 10), day=1)
    stage(tmp_path / "local/b", "part-0.parquet", range(10, 15), day=2)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake")
    for path in (tmp_path / "local").rglob("*.parquet"):
        key = "staged/" + path.relative_to(tmp_path / "local").as_posix()
        s3.upload_fileobj(io.BytesIO(path.read_bytes()), "lake", key)
    count = {"task": "iceberg_query", "args": {"sql": "SELECT count(*) AS n FROM events"}}
    tasks = [
        {"task": "iceberg_create_table",
         "args": {"table": {**SPEC, "location": "s3://lake/tables/events/"}}},
        append("s3://lake/staged/a/"),
        append("s3://lake/staged/b/", branch="wap"),
        count,
        audit(),
        count,
    ]  # fmt: skip
    params = {"database": "sales", "region_name": "us-east-1", "endpoint_url": moto_endpoint}
    routine = {
        "routine_name": "ice_wap",
        "executors": {"events": {"executor": "GlueExecutor", "params": params, "tasks": tasks}},
    }
    path = tmp_path / "glue.json"
    path.write_text(json.dumps(routine))

    result = run(path)

    assert result.ok, [t.error for t in result.tasks]
    assert result.tasks[3].output["preview"] == [{"n": 10}]  # the branch unseen on main
    assert result.tasks[4].output["rows"] == 15 and result.tasks[4].output["failed"] == 0
    assert result.tasks[5].output["preview"] == [{"n": 15}]  # published


def test_athena_refuses_a_branch_before_sending_anything(
    tmp_path: Path, run, athena_driver, moto_endpoint
) -> None:
    import json

    params = {"database": "sales", "output_location": "s3://results/athena/"}
    tasks = [append("s3://lake/staged/b/", branch="wap")]
    routine = {"routine_name": "ice_athena",
               "executors": {"t": {"executor": "AthenaExecutor", "params": params,
                                   "tasks": tasks}}}  # fmt: skip
    path = tmp_path / "athena.json"
    path.write_text(json.dumps(routine))

    result = run(path)

    assert result.status == "failed"
    assert "Athena's SQL writes main only" in result.tasks[0].error
    assert athena_driver.queries == []
