"""How long parsing a lakeroutine DAG file costs Airflow, beside a plain DAG file.

Airflow parses a DAG file in a DAG processor and again in every task's process. The script
writes a routine of ``--tasks`` routine tasks (DuckDB and Athena blocks of ``--per-block``
``run_query`` tasks), a DAG file over it (``routine_dag``), and the anchor: a plain DAG file
of as many chained ``EmptyOperator`` tasks. In fresh Python processes, each file is parsed
as Airflow parses it (its module executed from the file) after ``import airflow.sdk`` and a
first empty ``DAG()`` (Airflow's own one-off costs, not the file's), and timed:

- ``cold``: a fresh DAG processor's first parse with an empty parse cache (importing
  lakeroutine and the plugins, validating the routine offline, recording it valid in the
  cache, building the operators);
- ``warm``: a fresh DAG processor's first parse of the same input with the cache filled by an
  earlier process (the steps read from the file, nothing validated);
- ``worker``: a task's process, whose parsing context names the task (the routine's steps
  are read from the file; the task validates the routine when it runs);
- ``plain``: the plain DAG file, parsed the same way.

Every round runs the three once, the order reversed every other round; figures are medians
of CPU milliseconds (wall-clock ones too), and ratios the medians of each round's pair. It
lists any of boto3, botocore, pyarrow or duckdb the parses imported.

Targets (200 tasks): the processor's first parse at most 50 ms and within 2x the plain DAG
(judged warm: cold is shown beside it); a task process's parse on par with the plain DAG
(within 1.25x). Exits 1 if one is missed.
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
TARGET_VS_PLAIN = 2.0
TARGET_WORKER_VS_PLAIN = 1.25

CHILD = r"""
import json, os, sys, time
dag_file, mode, cache = sys.argv[1], sys.argv[2], sys.argv[3]
os.environ["LAKEROUTINE_PARSE_CACHE"] = cache
if mode == "worker":  # what Airflow's task runner sets before parsing the DAG file
    os.environ["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = "parse_benchmark"
    os.environ["_AIRFLOW_PARSING_CONTEXT_TASK_ID"] = "duck0__run_query"
import airflow.sdk
airflow.sdk.DAG("first_dag", schedule=None)  # Airflow's one-off cost of a first DAG
import importlib.util
spec = importlib.util.spec_from_file_location("parsed_dag_file", dag_file)
module = importlib.util.module_from_spec(spec)
c0, w0 = time.process_time(), time.perf_counter()
spec.loader.exec_module(module)
c1, w1 = time.process_time(), time.perf_counter()
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"boto3", "botocore", "pyarrow", "duckdb"})
print(json.dumps({"cpu": (c1 - c0) * 1000, "wall": (w1 - w0) * 1000,
                  "tasks": len(module.dag.task_dict), "heavy": heavy}))
"""

ROUTINE_DAG = """
from lakeroutine_airflow import routine_dag

dag = routine_dag("routine.json", dag_id="parse_benchmark", schedule=None)
"""

PLAIN_DAG = """
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG("plain_dag", schedule=None) as dag:
    previous = None
    for number in range(TASKS):
        task = EmptyOperator(task_id=f"task_{number}")
        if previous is not None:
            previous >> task
        previous = task
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

    runs: dict[str, list[dict]] = {"cold": [], "warm": [], "worker": [], "plain": []}
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        (home / "routine.json").write_text(json.dumps(routine(options.tasks, options.per_block)))
        (home / "routine_dag.py").write_text(ROUTINE_DAG)
        (home / "plain_dag.py").write_text(PLAIN_DAG.replace("TASKS", str(options.tasks)))
        files = {mode: "routine_dag.py" for mode in runs} | {"plain": "plain_dag.py"}
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode caches kept
        modes = list(runs)
        for number in range(options.repeat + 1):  # the first round fills the caches
            for mode in reversed(modes) if number % 2 else modes:
                # cold: a new empty cache each time; the others share one, filled in round 0
                cache = home / (f"cache-{number}" if mode == "cold" else "cache")
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, str(home / files[mode]), mode, str(cache)],
                    cwd=home,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                if number:
                    runs[mode].append(json.loads(out.strip().splitlines()[-1]))

    import airflow  # only for its version

    print(
        f"Python {platform.python_version()}, Airflow {airflow.__version__}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"{runs['warm'][0]['tasks']} Airflow tasks; {options.repeat} rounds"
    )
    print(
        f"{'ms beyond import airflow.sdk and a first DAG':<50}{'CPU':>8}{'wall':>8}{'x plain':>9}"
    )
    labels = {
        "cold": "DAG processor, first parse, cache empty",
        "warm": "DAG processor, first parse, cache filled",
        "worker": "task process (steps read, validated at run)",
        "plain": f"plain DAG, {options.tasks} chained EmptyOperators",
    }
    ratios = {}
    for mode, label in labels.items():
        cpu = statistics.median(run["cpu"] for run in runs[mode])
        wall = statistics.median(run["wall"] for run in runs[mode])
        ratios[mode] = statistics.median(
            run["cpu"] / plain["cpu"] for run, plain in zip(runs[mode], runs["plain"], strict=True)
        )
        print(f"{label:<50}{cpu:>8.1f}{wall:>8.1f}{ratios[mode]:>8.2f}x")
    heavy = sorted({name for found in runs.values() for run in found for name in run["heavy"]})
    print(f"heavy libraries imported by the parses: {', '.join(heavy) or 'none'}")
    processor = statistics.median(run["cpu"] for run in runs["warm"])
    ok = (
        processor <= TARGET_MS
        and ratios["warm"] <= TARGET_VS_PLAIN
        and ratios["worker"] <= TARGET_WORKER_VS_PLAIN
        and not heavy
    )
    print(
        f"targets: processor (warm) <= {TARGET_MS:g} ms and <= {TARGET_VS_PLAIN:g}x plain, task "
        f"process <= {TARGET_WORKER_VS_PLAIN:g}x plain, no heavy imports: "
        f"{'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
