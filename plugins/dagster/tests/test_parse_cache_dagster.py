"""A code location load answered by the parse cache builds the very definitions the
validating load built: op names, order, retry policies, tags (step digests included); an
edited routine is validated again, an invalid one fails every load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LOAD = r"""
import json, sys
from lakeroutine_dagster import routine_definitions
job = routine_definitions(sys.argv[1]).get_job_def("cached")
nodes = []
for invocation, deps in job.graph.dependencies.items():
    policy = invocation.retry_policy
    nodes.append([invocation.alias, sorted(d.node for d in deps.values()),
                  [policy.max_retries, policy.delay] if policy else None,
                  dict(invocation.tags)])
print(json.dumps({
    "validated": "lakeroutine.routine" in sys.modules,
    "nodes": nodes,
    "tags": dict(job.tags),
    "metadata": {key: str(value) for key, value in job.metadata.items()},
}))
"""


def load(path: Path) -> dict:
    """The job a fresh process's code location load builds (with the tests' parse cache)."""
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(path)], capture_output=True, text=True, env=os.environ
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def write(path: Path, tasks: list) -> Path:
    spec = {
        "routine_name": "cached",
        "executors": {
            "duck": {
                "executor": "DuckDBExecutor",
                "params": {"database": "lake.duckdb"},
                "tasks": tasks,
            }
        },
    }
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def test_the_cached_load_builds_the_definitions_the_validating_load_built(tmp_path):
    tasks = [
        "create_database",
        {"task": "run_query", "args": {"sql": "SELECT 1"}, "retries": 2, "retry_delay_s": 3},
        {"task": "run_query", "args": {"sql": "SELECT 2"}},
    ]
    path = write(tmp_path / "routine.json", tasks)
    miss, hit = load(path), load(path)
    assert (miss.pop("validated"), hit.pop("validated")) == (True, False)
    assert hit == miss
    assert [node[0] for node in hit["nodes"]] == [
        "duck__create_database",
        "duck__run_query",
        "duck__run_query__2",
    ]
    assert hit["nodes"][1][2] == [2, 3.0]
    assert set(json.loads(hit["tags"]["lakeroutine/step-digests"])) == {
        "duck.create_database",
        "duck.run_query",
        "duck.run_query#2",
    }
    write(path, [*tasks, {"task": "run_query", "args": {"sql": "SELECT 3"}}])
    edited = load(path)
    assert edited.pop("validated") and len(edited["nodes"]) == 4
    assert load(path)["validated"] is False


def test_an_invalid_routine_fails_every_load(tmp_path):
    path = write(tmp_path / "routine.json", [{"task": "run_query", "args": {"sqll": "SELECT"}}])
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", LOAD, str(path)], capture_output=True, text=True
        )
        assert done.returncode != 0
        assert "sqll" in done.stderr and str(path) in done.stderr
