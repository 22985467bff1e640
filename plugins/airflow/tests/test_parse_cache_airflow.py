"""A DAG processor's parse answered by the parse cache builds the very DAG the validating
parse built: task ids, order, retries, step digests and the ``lakeroutine:<version>`` tag;
an edited routine is validated again (an invalid one is an import error each time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lr_airflow_routines import duckdb_routine, query, write

PARSE = r"""
import json, sys
import airflow.sdk
from lakeroutine_airflow import routine_dag
dag = routine_dag(sys.argv[1], schedule=None, vars={"day": "{{ ds }}"})
print(json.dumps({
    "validated": "lakeroutine.routine" in sys.modules,
    "dag_id": dag.dag_id,
    "tags": sorted(dag.tags),
    "description": dag.description,
    "tasks": [
        [t.task_id, sorted(t.upstream_task_ids), t.retries, t.retry_delay.total_seconds(),
         t.step_id, t.step_digest, t.routine_tag, t.doc_md, t.routine_vars]
        for t in dag.topological_sort()
    ],
}))
"""


def parse(path: Path) -> dict:
    """The DAG a fresh process's parse builds (with the tests' parse cache)."""
    done = subprocess.run(
        [sys.executable, "-c", PARSE, str(path)], capture_output=True, text=True, env=os.environ
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_cached_parse_builds_the_dag_the_validating_parse_built(tmp_path: Path) -> None:
    routine = duckdb_routine(
        tmp_path,
        "create_database",
        query("SELECT 1", retries=3, retry_delay_s=7),
        query("SELECT '${day}'"),
    )
    path = write(tmp_path, routine)
    miss, hit = parse(path), parse(path)
    assert (miss.pop("validated"), hit.pop("validated")) == (True, False)
    assert hit == miss
    assert [task[0] for task in hit["tasks"]] == [
        "duck__create_database",
        "duck__run_query",
        "duck__run_query__2",
    ]
    assert hit["tasks"][1][2:4] == [3, 7.0]
    assert any(tag.startswith("lakeroutine:") for tag in hit["tags"])

    routine["executors"]["duck"]["tasks"].insert(0, query("SELECT 0"))  # edited: validated
    write(tmp_path, routine)
    edited = parse(path)
    assert edited.pop("validated") and edited["tags"] != hit["tags"]
    assert parse(path)["validated"] is False


def test_an_invalid_routine_is_an_import_error_at_every_parse(tmp_path: Path) -> None:
    routine = duckdb_routine(tmp_path, query("SELECT 1", row_limit="many"))
    path = write(tmp_path, routine)
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", PARSE, str(path)], capture_output=True, text=True
        )
        assert done.returncode != 0
        assert "row_limit" in done.stderr and str(path) in done.stderr
