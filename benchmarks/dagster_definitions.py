"""What loading a routine as Dagster definitions costs beyond ``import dagster``.

Writes a routine of ``--tasks`` tasks (200 by default: a StagingExecutor block and DuckDB
blocks of ``create_table`` + ``run_query``, as a real lake routine has) and, in fresh Python
processes (``--repeat`` of each kind), times what a definitions file costs beyond ``import
dagster`` (printed for scale): importing ``lakeroutine_dagster``, ``routine_definitions(path)``
and resolving the job (``defs.get_job_def``), in the two ways Dagster loads definitions:

- as a **run or step worker** rebuilds them (Dagster's reconstruction: every op process of
  the default multiprocess executor, every run worker): the steps are read from the file,
  not validated (each op validates as it starts), so no plugin or executor is imported;
- as Dagster **loads the code location** (``dagster dev``, a code server, ``dagster job
  execute``): the routine is validated offline (plugins loaded, the executors it uses
  imported), cold, then again in the same process (warm), beside ``lakeroutine.load_routine``
  alone (the core's part of the warm call; the rest is building the Dagster job).

Python's cyclic garbage collector makes its first full pass over Dagster's freshly imported
heap (about 40 to 150 ms here) when the first code after ``import dagster`` allocates enough:
whatever runs first pays it, so each kind is also timed with a ``gc.collect()`` right after
``import dagster``, counted with the import. Bytecode is written and used (as after any pip
install), whatever PYTHONDONTWRITEBYTECODE says; a first, uncounted, process writes it. It
also checks that none of boto3, botocore, pyarrow or duckdb was imported. Target: under
50 ms beyond ``import dagster`` (and its first collection) for 200 tasks where it is paid
per op (a worker's load); exits 1 if the best repeat misses it.

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
t0 = time.perf_counter()
import dagster
if sys.argv[4] == "collect":  # the collector's first full pass over Dagster's new heap
    import gc
    gc.collect()
t1 = time.perf_counter()
if sys.argv[3] == "worker":  # what Dagster sets in a run or step worker
    from dagster._core.definitions.definitions_load_context import (
        DefinitionsLoadContext, DefinitionsLoadType)
    DefinitionsLoadContext.set(
        DefinitionsLoadContext(load_type=DefinitionsLoadType.RECONSTRUCTION))
t1b = time.perf_counter()
from lakeroutine_dagster import routine_definitions
job = routine_definitions(sys.argv[1]).get_job_def(sys.argv[2])
t2 = time.perf_counter()
figures = {"import_dagster_ms": (t1 - t0) * 1e3, "beyond_ms": (t2 - t1b) * 1e3}
if sys.argv[3] == "location":
    routine_definitions(sys.argv[1]).get_job_def(sys.argv[2])
    t3 = time.perf_counter()
    from lakeroutine import load_routine
    load_routine(sys.argv[1])
    t4 = time.perf_counter()
    figures["warm_ms"] = (t3 - t2) * 1e3
    figures["warm_load_ms"] = (t4 - t3) * 1e3
figures["ops"] = len(job.graph.nodes)
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


def probe(path: Path, kind: str, repeat: int, gc_first: bool) -> list[dict]:
    """``repeat`` fresh processes loading the definitions as ``kind`` (after one uncounted);
    ``gc_first``: a full collection right after ``import dagster``, counted with it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    runs = []
    for _ in range(repeat + 1):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, str(path), "bench", kind, "collect" if gc_first else ""],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return runs[1:]


def show(label: str, values: list[float]) -> None:
    print(f"{label}: best {min(values):.1f} ms, median {statistics.median(values):.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_routine(Path(tmp), args.tasks)
        worker = probe(path, "worker", args.repeat, gc_first=False)
        location = probe(path, "location", args.repeat, gc_first=False)
        worker_gc = probe(path, "worker", args.repeat, gc_first=True)
        location_gc = probe(path, "location", args.repeat, gc_first=True)
    print(
        f"routine of {worker[0]['ops']} tasks, {args.repeat} fresh processes of each kind, "
        f"Python {sys.version.split()[0]}"
    )
    show("import dagster (for scale)", [r["import_dagster_ms"] for r in worker + location])
    show("run or step worker, beyond import dagster", [r["beyond_ms"] for r in worker])
    show("code location load, beyond import dagster (cold)", [r["beyond_ms"] for r in location])
    show("  the same again in that process (warm)", [r["warm_ms"] for r in location])
    show("    of which lakeroutine.load_routine", [r["warm_load_ms"] for r in location])
    print("with the collector's first full pass after import dagster counted with import dagster:")
    show("  import dagster + gc.collect()", [r["import_dagster_ms"] for r in worker_gc])
    show("  run or step worker, beyond it", [r["beyond_ms"] for r in worker_gc])
    show("  code location load, beyond it (cold)", [r["beyond_ms"] for r in location_gc])
    worker += worker_gc
    location += location_gc
    heavy = sorted({m for run in worker + location for m in run["heavy"]})
    print(f"heavy modules imported: {', '.join(heavy) or 'none'}")
    best = min(r["beyond_ms"] for r in worker_gc)  # the machine's load only adds to it
    ok = best < TARGET_MS and not heavy
    print(
        f"target < {TARGET_MS:.0f} ms per op process (best, collection counted with import "
        f"dagster): {'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
