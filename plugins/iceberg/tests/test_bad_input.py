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


REFUSALS = [
    (
        "a table that exists with another schema",
        {
            "task": "iceberg_create_table",
            "args": {"table": {**SPEC, "columns": {**SPEC["columns"], "amount": "string"}}},
        },
        "args.table.columns.amount",
        "exists with another schema",
    ),
    (
        "a type change that loses data",
        {
            "task": "iceberg_evolve",
            "args": {
                "table": "events",
                "add_columns": {"note": "string"},
                "widen_columns": {"amount": "float"},
            },
        },
        "args.widen_columns.amount",
        "could lose data",
    ),
    (
        "a partition transform on a missing column",
        {
            "task": "iceberg_evolve",
            "args": {"table": "events", "partitioned_by": ["bucket(8, nope)"]},
        },
        "args.partitioned_by",
        "'nope'",
    ),
    (
        "a merge on keys the table lacks",
        {
            "task": "iceberg_merge",
            "args": {"table": "events", "files": "staged/", "keys": ["missing"]},
        },
        "args.keys",
        "merge keys ['missing']",
    ),
    (
        "a rename onto a column that exists",
        {
            "task": "iceberg_evolve",
            "args": {"table": "events", "rename_columns": {"kind": "amount"}},
        },
        "args.rename_columns.kind",
        "has a column 'amount' already",
    ),
]


@pytest.fixture(scope="module")
def filled_twin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A twin whose ``events`` table holds one appended file (made once for the cases)."""
    root = tmp_path_factory.mktemp("twin")
    stage(root / "staged", "a.parquet", range(10))
    tasks = [
        {"task": "iceberg_create_table", "args": {"table": SPEC}},
        {"task": "iceberg_append", "args": {"table": "events", "files": "staged/"}},
    ]
    assert main(["run", str(twin_routine(root, tasks, name="fill.json"))]) == 0
    return root


@pytest.mark.parametrize(
    ("case", "task", "field", "expected"), REFUSALS, ids=[c[0] for c in REFUSALS]
)
def test_table_dependent_refusals_exit_2_commit_nothing(
    filled_twin: Path, capsys, case, task, field, expected
) -> None:
    """Checked against the table before any commit: exit 2 naming the routine file, the
    executor, the task and the field; no retry; the table's metadata unchanged."""
    table = twin_table(filled_twin)
    before = (table.metadata_location, [s.snapshot_id for s in table.metadata.snapshots])
    capsys.readouterr()
    routine = twin_routine(filled_twin, [{**task, "retries": 2}], name="refused.json")
    assert main(["run", "--report", str(filled_twin / "report.json"), str(routine)]) == 2
    err = capsys.readouterr().err
    assert f"refused.json, executor 'lake', task '{task['task']}', field '{field}'" in err, err
    assert expected in err
    report = json.loads((filled_twin / "report.json").read_text())
    (entry,) = report["tasks"]
    assert entry["refused"] is True and entry["attempts"] == 1  # a retry cannot help
    table.refresh()
    assert (table.metadata_location, [s.snapshot_id for s in table.metadata.snapshots]) == before


def test_a_task_failing_at_run_time_still_exits_1(filled_twin: Path, capsys) -> None:
    """Only refusals of args exit 2: a failure of the work (no staged files) stays 1."""
    task = {"task": "iceberg_append", "args": {"table": "events", "files": "empty/"}}
    (filled_twin / "empty").mkdir(exist_ok=True)
    assert main(["run", str(twin_routine(filled_twin, [task], name="empty.json"))]) == 1
    assert "no .parquet files" in capsys.readouterr().err
