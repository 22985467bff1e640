"""What parsing a routine DAG file may import and build, in a DAG processor and in a task's
process (start-up cost; benchmarks/airflow_parse.py times it): boundaries, not timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lr_airflow_routines import write

PARSE = r"""
import importlib.metadata, sys
scans = []
_entry_points = importlib.metadata.entry_points
def counted(**selection):  # stdlib's, counted: each full scan of the installed metadata
    scans.append(selection)
    return _entry_points(**selection)
importlib.metadata.entry_points = counted
import airflow.sdk  # Airflow's own imports, before the DAG file's
before = set(sys.modules)
scans.clear()
from lakeroutine_airflow import routine_dag
dag = routine_dag(sys.argv[1], schedule=None)
added = sorted(set(sys.modules) - before)
built = {}
for module, names in (("lakeroutine_duckdb.models", ("RunQueryArgs", "CtasArgs")),
                      ("lakeroutine_athena.models", ("RunQueryArgs", "CreateTableArgs"))):
    if module in sys.modules:
        for name in names:
            built[f"{module}.{name}"] = getattr(sys.modules[module], name).__pydantic_complete__
import json
print(json.dumps({"tasks": len(dag.task_dict), "added": added, "scans": scans, "built": built}))
"""

HEAVY = {"boto3", "botocore", "pyarrow", "duckdb", "pandas"}


def routine(tmp_path: Path) -> Path:
    """A DuckDB block and an Athena block of ``run_query`` tasks."""
    queries = [{"task": "run_query", "args": {"sql": f"SELECT {n}"}} for n in range(3)]
    return write(
        tmp_path,
        {
            "routine_name": "parse_imports",
            "executors": {
                "duck": {
                    "executor": "DuckDBExecutor",
                    "params": {"database": str(tmp_path / "lake.duckdb")},
                    "tasks": queries,
                },
                "athena": {
                    "executor": "AthenaExecutor",
                    "params": {"database": "lake", "output_location": "s3://results/athena/"},
                    "tasks": queries,
                },
            },
        },
    )


def parse(path: Path, task_id: str | None = None) -> dict:
    """What a fresh process's parse of the routine's DAG imported, scanned and built."""
    env = dict(os.environ)
    if task_id is not None:  # what Airflow's task runner sets before parsing the DAG file
        env["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = "parse_imports"
        env["_AIRFLOW_PARSING_CONTEXT_TASK_ID"] = task_id
    out = subprocess.run(
        [sys.executable, "-c", PARSE, str(path)], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_dag_processor_imports_and_builds_only_what_the_routine_uses(tmp_path: Path) -> None:
    """Validating at parse imports the two executors named, not the others nor the staging
    one, builds the models of the tasks used only, and scans the entry points once."""
    found = parse(routine(tmp_path))
    assert found["tasks"] == 6
    added = set(found["added"])
    assert {"lakeroutine_duckdb.executor", "lakeroutine_athena.executor"} <= added
    for unused in ("lakeroutine_glue.executor", "lakeroutine_redshift.executor"):
        assert unused not in added
    assert "lakeroutine.staging.executor" not in added
    assert found["built"] == {
        "lakeroutine_duckdb.models.RunQueryArgs": True,
        "lakeroutine_duckdb.models.CtasArgs": False,
        "lakeroutine_athena.models.RunQueryArgs": True,
        "lakeroutine_athena.models.CreateTableArgs": False,
    }
    assert len(found["scans"]) <= 1, found["scans"]
    assert not {name.split(".")[0] for name in added} & HEAVY


def test_a_task_process_imports_no_plugin_executor_or_model(tmp_path: Path) -> None:
    """A task's process reads the steps from the file: no plugin loading, no executor
    module, no routine model, no entry-point scan."""
    found = parse(routine(tmp_path), task_id="duck__run_query")
    assert found["tasks"] == 6
    ours = {name for name in found["added"] if name.startswith("lakeroutine")}
    for name in ("lakeroutine.plugins", "lakeroutine.routine", "lakeroutine.entry_points"):
        assert name not in ours
    assert not {name for name in ours if name.endswith((".executor", ".models"))}
    assert found["scans"] == [] and found["built"] == {}
    assert not {name.split(".")[0] for name in found["added"]} & HEAVY


def test_a_warm_dag_processor_imports_no_model_plugin_or_executor(tmp_path: Path) -> None:
    """A DAG processor parsing an input the parse cache knows valid reads the steps from the
    file: no plugin loading, no executor module, no model module of ours, no entry-point
    scan (the first parse, cold, validated and filled the cache)."""
    path = routine(tmp_path)
    cold, warm = parse(path), parse(path)
    assert "lakeroutine.routine" in cold["added"] and warm["tasks"] == cold["tasks"] == 6
    ours = {name for name in warm["added"] if name.startswith("lakeroutine")}
    for name in ("lakeroutine.plugins", "lakeroutine.routine", "lakeroutine.entry_points"):
        assert name not in ours
    assert not {name for name in ours if name.endswith((".executor", ".models"))}
    assert warm["scans"] == [] and warm["built"] == {}
    assert not {name.split(".")[0] for name in warm["added"]} & HEAVY
