"""Point 8: bad input is refused before anything runs (exit 2 naming the routine file,
executor, task and field) or, where only the table can tell, fails naming the field with
nothing committed; pyiceberg and pyarrow are not imported to validate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lakeroutine.cli import main

sys.path.insert(0, os.path.dirname(__file__))

from iceberg_support import SPEC, stage, twin_routine, twin_table


def _spec(**changes: Any) -> dict[str, Any]:
    return {**SPEC, **changes}


CASES = [
    (
        "merge without keys",
        {"task": "iceberg_merge", "args": {"table": "events", "files": "s/"}},
        "keys",
    ),
    (
        "merge with empty keys",
        {"task": "iceberg_merge", "args": {"table": "events", "files": "s/", "keys": []}},
        "keys",
    ),
    (
        "transform on a missing column",
        {"task": "iceberg_create_table", "args": {"table": _spec(partitioned_by=["day(when)"])}},
        "no column 'when'",
    ),
    (
        "day() of a string",
        {"task": "iceberg_create_table", "args": {"table": _spec(partitioned_by=["day(kind)"])}},
        "cannot apply to a string",
    ),
    (
        "bucket without a count",
        {"task": "iceberg_create_table", "args": {"table": _spec(partitioned_by=["bucket(id)"])}},
        "bucket(N, column)",
    ),
    (
        "unknown transform",
        {"task": "iceberg_create_table", "args": {"table": _spec(partitioned_by=["week(ts)"])}},
        "unknown partition transform",
    ),
    (
        "key column missing",
        {"task": "iceberg_create_table", "args": {"table": _spec(identifier_columns=["nope"])}},
        "identifier column 'nope'",
    ),
    (
        "double key",
        {"task": "iceberg_create_table", "args": {"table": _spec(identifier_columns=["amount"])}},
        "cannot be a double",
    ),
    (
        "type Iceberg lacks",
        {
            "task": "iceberg_create_table",
            "args": {"table": _spec(columns={"id": "bigint", "ts": "timestamp", "n": "tinyint"})},
        },
        "no tinyint",
    ),
    (
        "sort on a missing column",
        {"task": "iceberg_create_table", "args": {"table": _spec(sort_order=["zz desc"])}},
        "sort column 'zz'",
    ),
    (
        "two sources",
        {"task": "iceberg_append", "args": {"table": "events", "files": "s/", "query": "SELECT 1"}},
        "exactly one source",
    ),
    (
        "evolve nothing",
        {"task": "iceberg_evolve", "args": {"table": "events"}},
        "nothing to evolve",
    ),
    (
        "maintain nothing",
        {"task": "iceberg_maintain", "args": {"table": "events"}},
        "nothing to maintain",
    ),
    (
        "s3 files on the twin",
        {"task": "iceberg_append", "args": {"table": "events", "files": "s3://b/x/"}},
        "local folder",
    ),
]


@pytest.mark.parametrize(("case", "task", "expected"), CASES, ids=[c[0] for c in CASES])
def test_refused_before_running(tmp_path: Path, capsys, case, task, expected) -> None:
    routine = twin_routine(tmp_path, [task])
    assert main(["run", str(routine)]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "routine.json" in err and "'lake'" in err and task["task"] in err
    assert not (tmp_path / "lake.iceberg").exists()  # nothing made


def test_athena_and_glue_want_s3_locations(tmp_path: Path, capsys) -> None:
    routine = {
        "routine_name": "ice",
        "executors": {
            "g": {
                "executor": "GlueExecutor",
                "params": {"database": "db"},
                "tasks": [
                    {"task": "iceberg_append", "args": {"table": "events", "files": "staged/"}}
                ],
            },
        },
    }
    path = tmp_path / "r.json"
    path.write_text(json.dumps(routine))
    assert main(["validate", "--offline", str(path)]) == 2
    assert "s3:// URL" in capsys.readouterr().err


def test_validate_imports_neither_pyiceberg_nor_pyarrow(tmp_path: Path) -> None:
    path = twin_routine(tmp_path, [{"task": "iceberg_create_table", "args": {"table": SPEC}}])
    code = (
        "import sys; from lakeroutine.cli import main; rc = main(['validate', sys.argv[1]]);"
        "heavy = [m for m in ('pyiceberg', 'pyarrow', 'duckdb') if m in sys.modules];"
        "print(rc, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stderr


def _run_and_fail(run, tmp_path: Path, tasks: list[Any], name: str) -> Any:
    result = run(twin_routine(tmp_path, tasks, name=name))
    assert not result.ok
    return next(t for t in result.tasks if t.status == "failed")


def test_table_dependent_refusals_commit_nothing(tmp_path: Path, run) -> None:
    stage(tmp_path / "staged", "a.parquet", range(10))
    ok = run(
        twin_routine(
            tmp_path,
            [
                {"task": "iceberg_create_table", "args": {"table": SPEC}},
                {"task": "iceberg_append", "args": {"table": "events", "files": "staged/"}},
            ],
        )
    )
    assert ok.ok, ok
    table = twin_table(tmp_path)
    before = (table.metadata_location, [s.snapshot_id for s in table.metadata.snapshots])

    other = _spec(columns={**SPEC["columns"], "amount": "string"})
    failed = _run_and_fail(
        run, tmp_path, [{"task": "iceberg_create_table", "args": {"table": other}}], "exists.json"
    )
    assert "exists with another schema" in failed.error and "'amount'" in failed.error

    failed = _run_and_fail(
        run,
        tmp_path,
        [
            {
                "task": "iceberg_evolve",
                "args": {
                    "table": "events",
                    "add_columns": {"note": "string"},
                    "widen_columns": {"amount": "float"},
                },
            }
        ],
        "narrow.json",
    )
    assert "widen_columns.amount" in failed.error and "could lose data" in failed.error

    failed = _run_and_fail(
        run,
        tmp_path,
        [
            {
                "task": "iceberg_evolve",
                "args": {"table": "events", "partitioned_by": ["bucket(8, nope)"]},
            }
        ],
        "part.json",
    )
    assert "partitioned_by" in failed.error and "'nope'" in failed.error

    failed = _run_and_fail(
        run,
        tmp_path,
        [
            {
                "task": "iceberg_merge",
                "args": {"table": "events", "files": "staged/", "keys": ["missing"]},
            }
        ],
        "keys.json",
    )
    assert "merge keys ['missing']" in failed.error

    table.refresh()
    assert (table.metadata_location, [s.snapshot_id for s in table.metadata.snapshots]) == before
