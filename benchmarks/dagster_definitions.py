"""What loading a routine as Dagster definitions costs beyond ``import dagster``, beside a
plain Dagster job of as many chained ops.

Writes a routine of ``--tasks`` tasks (200 by default: a StagingExecutor block and DuckDB
blocks of ``create_table`` + ``run_query``, as a real lake routine has) and, in fresh Python
processes, times ``routine_definitions(path)`` and resolving the job (``get_job_def``), in
the two ways Dagster loads definitions, and the anchor:

- a **code location** load (``dagster dev``, a code server, ``dagster job execute``),
  *cold*: the parse cache empty, so the routine is validated offline (plugins loaded, the
  executors it uses imported) and recorded valid; and *warm*: the same input, the cache
  filled by an earlier process, so the steps are read from the file;
- a **run or step worker** rebuilding them (Dagster's reconstruction): the steps are read
  from the file, not validated (each op validates as it starts);
- a **plain job** of ``--tasks`` ops chained with ``In(Nothing)``, written as a user would.

Python's cyclic garbage collector makes its first full pass over Dagster's freshly imported
heap (about 40 to 150 ms here) when the first code after ``import dagster`` allocates enough:
whatever runs first pays it. So every kind is measured twice: with a ``gc.collect()`` right
after ``import dagster`` counted with the import (the same for the plain job), and as is.
Each round runs the three kinds once, the order reversed every other round; figures are
medians of CPU milliseconds (wall-clock too), ratios the medians of each round's pair.
Bytecode is written and used (as after a pip install), whatever PYTHONDONTWRITEBYTECODE says.
It checks that none of boto3, botocore, pyarrow or duckdb was imported. Target: a code
location load (warm) <= 50 ms beyond ``import dagster`` and its first collection (and a
worker's); exits 1 if missed.

    .venv/bin/python benchmarks/dagster_definitions.py [--tasks 200] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_MS = 50.0
HEAVY = ("boto3", "botocore", "pyarrow", "duckdb")

PROBE = """
import json, sys, time
path, kind, collect, tasks = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
import dagster
if collect:  # the collector's first full pass over Dagster's new heap, counted with it
    import gc
    gc.collect()
if kind == "worker":  # what Dagster sets in a run or step worker
    from dagster._core.definitions.definitions_load_context import (
        DefinitionsLoadContext, DefinitionsLoadType)
    DefinitionsLoadContext.set(
        DefinitionsLoadContext(load_type=DefinitionsLoadType.RECONSTRUCTION))
c0, w0 = time.process_time(), time.perf_counter()
if kind == "plain":  # the anchor: a plain job of as many chained ops, as a user writes it
    import dagster as dg
    def make(number):
        @dg.op(name=f"op_{number}", ins={"after": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing))
        def step():
            return None
        return step
    ops = [make(number) for number in range(tasks)]
    dependencies = {}
    for before, op in zip(ops, ops[1:]):
        dependencies[op.name] = {"after": dg.DependencyDefinition(before.name)}
    graph = dg.GraphDefinition(name="bench", node_defs=ops, dependencies=dependencies)
    job = dg.Definitions(jobs=[graph.to_job(name="bench")]).get_job_def("bench")
else:
    from lakeroutine_dagster import routine_definitions
    job = routine_definitions(path).get_job_def("bench")
c1, w1 = time.process_time(), time.perf_counter()
figures = {"cpu": (c1 - c0) * 1e3, "wall": (w1 - w0) * 1e3, "ops": len(job.graph.nodes)}
figures["heavy"] = [m for m in HEAVY if m in sys.modules]
print(json.dumps(figures))
""".replace("HEAVY", repr(HEAVY))


def write_routine(folder: Path, tasks: int) -> Path:
    """A routine of ``tasks`` tasks: staging (2 tasks), then DuckDB blocks of 2 tasks."""
    (folder / "landing").mkdir()
    executors: dict[str, object] = {
        "StagingExecutor": {
            "params": {
                "parent_directory": "landing/",
                "dump_directory": "staging/",
                "archive_or_delete": "archive",
                "py_exec_path": "lakeroutine.transforms:csv_to_parquet",
            },
            "tasks": ["transfer", "post_staging"],
        }
    }
    for number in range((tasks - 2) // 2):
        table = f"sales_{number}"
        executors[f"tables_{number}"] = {
            "executor": "DuckDBExecutor",
            "params": {"database": "lake.duckdb"},
            "tasks": [
                {
                    "task": "create_table",
                    "args": {
                        "table": {
                            "name": table,
                            "columns": {"name": "string", "amount": "double"},
                            "format": "parquet",
                            "location": "staging/",
                        },
                        "if_exists": "replace",
                    },
                },
                {"task": "run_query", "args": {"sql": f"SELECT count(*) FROM {table}"}},
            ],
        }
    path = folder / "routine.json"
    path.write_text(json.dumps({"routine_name": "bench", "executors": executors}, indent=1))
    return path


def measure(path: Path, tasks: int, repeat: int, collect: bool) -> dict[str, list[dict]]:
    """Fresh processes loading the definitions as a worker, as a code location, and the
    plain job, once each a round, the order reversed every other round; the first round,
    which writes the bytecode, is not counted."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    runs: dict[str, list[dict]] = {"worker": [], "cold": [], "warm": [], "plain": []}
    kinds = list(runs)
    caches = path.parent / f"caches-{int(collect)}"
    for round_ in range(repeat + 1):
        for kind in reversed(kinds) if round_ % 2 else kinds:
            # cold: a new empty parse cache each time; the others share one, filled in round 0
            cache = caches / (f"cold-{round_}" if kind == "cold" else "shared")
            out = subprocess.run(
                [sys.executable, "-c", PROBE, str(path), kind, "1" if collect else "", str(tasks)],
                check=True,
                capture_output=True,
                text=True,
                env={**env, "LAKEROUTINE_PARSE_CACHE": str(cache)},
            ).stdout
            if round_:
                runs[kind].append(json.loads(out.strip().splitlines()[-1]))
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_routine(Path(tmp), args.tasks)
        collected = measure(path, args.tasks, args.repeat, collect=True)
        uncollected = measure(path, args.tasks, args.repeat, collect=False)
    print(
        f"routine of {collected['worker'][0]['ops']} tasks, plain job of "
        f"{collected['plain'][0]['ops']} ops, {args.repeat} rounds, Python "
        f"{sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}"
    )
    labels = {
        "cold": "code location load, parse cache empty",
        "warm": "code location load, parse cache filled",
        "worker": "run or step worker (steps read)",
        "plain": "plain job of chained ops",
    }
    verdict = {}
    for title, runs in (
        ("first full collection after import dagster counted with it", collected),
        ("as is (the first full collection falls on whoever allocates first)", uncollected),
    ):
        print(f"\nms beyond import dagster, {title}")
        print(f"  {'':<48}{'CPU':>8}{'wall':>8}{'x plain':>9}")
        for kind, label in labels.items():
            cpu = statistics.median(r["cpu"] for r in runs[kind])
            wall = statistics.median(r["wall"] for r in runs[kind])
            ratio = statistics.median(
                r["cpu"] / p["cpu"] for r, p in zip(runs[kind], runs["plain"], strict=True)
            )
            print(f"  {label:<48}{cpu:>8.1f}{wall:>8.1f}{ratio:>8.2f}x")
            if runs is collected:
                verdict[kind] = cpu
    heavy = sorted(
        {
            m
            for runs in (collected, uncollected)
            for r in runs.values()
            for x in r
            for m in x["heavy"]
        }
    )
    print(f"heavy modules imported: {', '.join(heavy) or 'none'}")
    ok = verdict["warm"] <= TARGET_MS and verdict["worker"] <= TARGET_MS and not heavy
    print(
        f"target: a code location load (warm) and a worker's <= {TARGET_MS:.0f} ms CPU beyond "
        f"import dagster and its first collection: {'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
