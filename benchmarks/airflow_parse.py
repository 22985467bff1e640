"""How long parsing a lakeroutine DAG file costs Airflow, beyond ``import airflow``.

Every Airflow task process parses its DAG file again, so this is paid by every task. Writes a
routine of ``--tasks`` routine tasks (DuckDB and Athena blocks, ``--per-block`` tasks each)
and a DAG file over it, then, in fresh Python processes (``--repeat`` of them), times:

- ``import airflow.sdk`` and a first empty ``DAG()`` (Airflow's own floor, not ours: about
  0.1 s of it is the first DAG's default timetable);
- as the DAG processor parses it: the first ``routine_dag(path)`` (cold: importing
  lakeroutine and lakeroutine-airflow, loading plugins, validating the routine offline,
  building the operators), then the same again in that process (warm);
- as a worker's task process parses it (Airflow's parsing context names the task): the
  steps are read from the file, not validated (the task validates the routine when it
  runs), so no plugin or executor module is imported;
- and which heavy libraries the parse imported (none of boto3, botocore, pyarrow, duckdb).

Target: a task process's parse (paid by every task) under 50 ms for 200 routine tasks, of
which about 25 ms is Airflow building 200 operators. Exits 1 if the median misses it.
Run from the repository root: ``.venv/bin/python benchmarks/airflow_parse.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_MS = 50.0

CHILD = r"""
import json, os, sys, time
if sys.argv[2] == "worker":  # what Airflow's task runner sets before parsing the DAG file
    os.environ["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = "parse_benchmark"
    os.environ["_AIRFLOW_PARSING_CONTEXT_TASK_ID"] = "duck0__run_query"
t0 = time.perf_counter()
import airflow.sdk
airflow.sdk.DAG("first_dag", schedule=None)  # Airflow's one-off cost of a first DAG
t1 = time.perf_counter()
from lakeroutine_airflow import routine_dag
dag = routine_dag(sys.argv[1], schedule=None)
t2 = time.perf_counter()
routine_dag(sys.argv[1], dag_id="again", schedule=None)
t3 = time.perf_counter()
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"boto3", "botocore", "pyarrow", "duckdb"})
print(json.dumps({"import_airflow": t1 - t0, "cold": t2 - t1, "warm": t3 - t2,
                  "tasks": len(dag.task_dict), "heavy": heavy}))
"""


def routine(tasks: int, per_block: int) -> dict:
    """``tasks`` routine tasks in blocks of ``per_block``, DuckDB and Athena in turn."""
    executors = {}
    for block in range((tasks + per_block - 1) // per_block):
        count = min(per_block, tasks - block * per_block)
        queries = [
            {"task": "run_query", "args": {"sql": f"SELECT {i} AS n", "parameters": []}}
            for i in range(count)
        ]
        if block % 2:
            executors[f"athena{block}"] = {
                "executor": "AthenaExecutor",
                "params": {"database": "lake", "output_location": "s3://results/athena/"},
                "tasks": queries,
            }
        else:
            executors[f"duck{block}"] = {
                "executor": "DuckDBExecutor",
                "params": {"database": "lake.duckdb"},
                "tasks": queries,
            }
    return {"routine_name": "parse_benchmark", "executors": executors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--per-block", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        path = home / "routine.json"
        path.write_text(json.dumps(routine(options.tasks, options.per_block)))
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # workers keep bytecode caches
        runs: dict[str, list[dict]] = {"processor": [], "worker": []}
        for number in range(options.repeat + 1):  # the first fills the bytecode caches
            for mode, found in runs.items():
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, str(path), mode],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                if number:
                    found.append(json.loads(out.strip().splitlines()[-1]))

    def ms(mode: str, key: str) -> tuple[float, float]:
        values = [run[key] * 1000 for run in runs[mode]]
        return min(values), statistics.median(values)

    import airflow  # only for its version

    print(
        f"Python {platform.python_version()}, Airflow {airflow.__version__}, "
        f"{os.cpu_count()} CPUs; {runs['worker'][0]['tasks']} Airflow tasks; "
        f"{options.repeat} processes of each kind"
    )
    print(f"{'ms':<58}{'best':>8}{'median':>9}")
    rows = (
        ("processor", "import_airflow", "import airflow.sdk, first DAG() (Airflow's own)"),
        ("processor", "cold", "DAG processor: routine_dag, validating, first"),
        ("processor", "warm", "DAG processor: routine_dag, validating, again"),
        ("worker", "cold", "task process: routine_dag, first (validated at run)"),
        ("worker", "warm", "task process: routine_dag, again"),
    )
    for mode, key, label in rows:
        best, median = ms(mode, key)
        print(f"{label:<58}{best:>8.1f}{median:>9.1f}")
    heavy = sorted({name for found in runs.values() for run in found for name in run["heavy"]})
    print(f"heavy libraries imported by the parse: {', '.join(heavy) or 'none'}")
    cold = ms("worker", "cold")[1]
    verdict = "met" if cold < TARGET_MS and not heavy else "MISSED"
    print(f"target: a task process's parse under {TARGET_MS:g} ms, no heavy imports: {verdict}")
    return 0 if verdict == "met" else 1


if __name__ == "__main__":
    sys.exit(main())
