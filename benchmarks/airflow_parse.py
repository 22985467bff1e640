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

``--instructions``: instead, count the instructions each parse executes under valgrind's
callgrind (once per mode, warm, worker and plain; deterministic, whatever the machine's load)
and print their ratios to the plain DAG's; no targets judged.
Run from the repository root: ``.venv/bin/python benchmarks/airflow_parse.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_MS = 50.0
TARGET_VS_PLAIN = 2.0
TARGET_WORKER_VS_PLAIN = 1.25

CHILD = r"""
import functools, json, os, sys, time
dag_file, mode, cache, counted = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
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
if counted:  # the file's module run inside functools.reduce: callgrind counts only there
    functools.reduce(lambda _a, _b: spec.loader.exec_module(module), [0, 1])
else:
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


def parse(
    home: Path, dag_file: str, mode: str, cache: Path, env: dict, counter: tuple[str, ...] = ()
) -> dict:
    """One parse of ``dag_file`` as ``mode`` in a fresh process (``counter``: the command
    it runs under, callgrind); what the child printed."""
    counted = "1" if counter else "0"
    out = subprocess.run(
        [*counter, sys.executable, "-c", CHILD, str(home / dag_file), mode, str(cache), counted],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if counter:
        result["instructions"] = int(re.search(r"Collected : (\d+)", out.stderr).group(1))
    return result


def count_instructions(home: Path, files: dict[str, str], env: dict) -> int:
    """Each of warm, worker and plain parsed once under callgrind, counting only the DAG
    file's module (its imports included); their ratios to plain."""
    counter = (
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        "--toggle-collect=functools_reduce",
        f"--callgrind-out-file={home / 'callgrind.out'}",
    )
    env = {**env, "PYTHONHASHSEED": "0"}
    counts = {
        mode: parse(home, files[mode], mode, home / "cache", env, counter)["instructions"]
        for mode in ("warm", "worker", "plain")
    }
    print(f"Instructions executed by the DAG file's module (callgrind), {counts['plain']:,} plain")
    for mode, count in counts.items():
        print(f"{mode:<8}{count:>15,}{count / counts['plain']:>8.2f}x")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--per-block", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions under callgrind"
    )
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
        rounds = 1 if options.instructions else options.repeat + 1
        for number in range(rounds):  # the first round fills the caches
            for mode in reversed(modes) if number % 2 else modes:
                # cold: a new empty cache each time; the others share one, filled in round 0
                cache = home / (f"cache-{number}" if mode == "cold" else "cache")
                found = parse(home, files[mode], mode, cache, env)
                if number:
                    runs[mode].append(found)
        if options.instructions:
            return count_instructions(home, files, env)

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
