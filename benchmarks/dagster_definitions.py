"""What loading a routine as Dagster definitions costs beyond ``import dagster``.

Writes a routine of ``--tasks`` tasks (200 by default: a StagingExecutor block and DuckDB
blocks of ``create_table`` + ``run_query``, as a real lake routine has), then, in a fresh
Python process per repeat (as Dagster loads a code location), times:

- ``import dagster`` (not ours; printed for scale);
- beyond it, what a definitions file does: ``from lakeroutine_dagster import
  routine_definitions``, ``routine_definitions(path)``, and resolving the job
  (``defs.get_job_def``), which Dagster does when it loads the code location;
- ``routine_definitions`` again in the same process (warm: lakeroutine's and the executors'
  modules already imported, pydantic's validators built), split into
  ``lakeroutine.load_routine`` (plugin loading and validation, the core's part) and building
  the Dagster job: what is paid per routine, beside what is paid once per process.

Bytecode is written and used (as after any pip install), whatever PYTHONDONTWRITEBYTECODE
says; the first process, which writes it, is not counted. It also checks that none of
boto3, botocore, pyarrow or duckdb was imported. Target: under 50 ms beyond
``import dagster`` for 200 tasks; exits 1 if the best repeat misses it.

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
t1 = time.perf_counter()
from lakeroutine_dagster import routine_definitions
defs = routine_definitions(sys.argv[1])
job = defs.get_job_def(sys.argv[2])
t2 = time.perf_counter()
warm = routine_definitions(sys.argv[1]).get_job_def(sys.argv[2])
t3 = time.perf_counter()
from lakeroutine import load_routine
load_routine(sys.argv[1])
t4 = time.perf_counter()
print(json.dumps({
    "import_dagster_ms": (t1 - t0) * 1e3,
    "beyond_ms": (t2 - t1) * 1e3,
    "warm_ms": (t3 - t2) * 1e3,
    "warm_load_ms": (t4 - t3) * 1e3,
    "warm_dagster_ms": ((t3 - t2) - (t4 - t3)) * 1e3,
    "ops": len(job.graph.nodes),
    "heavy": [m for m in HEAVY if m in sys.modules],
}))
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_routine(Path(tmp), args.tasks)
        # Bytecode on, as in any pip install (a PYTHONDONTWRITEBYTECODE=1 shell would time
        # compiling lakeroutine's sources instead); the first, discarded, process writes it.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        runs = []
        for _ in range(args.repeat + 1):
            out = subprocess.run(
                [sys.executable, "-c", PROBE, str(path), "bench"],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            ).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
        runs = runs[1:]
    ops = runs[0]["ops"]
    print(f"routine of {ops} tasks, {args.repeat} fresh processes, Python {sys.version.split()[0]}")
    for key, label in [
        ("import_dagster_ms", "import dagster (for scale)"),
        ("beyond_ms", "beyond import dagster: import + routine_definitions + get_job_def"),
        ("warm_ms", "routine_definitions + get_job_def again, same process (warm)"),
        ("warm_load_ms", "  of which lakeroutine.load_routine (plugins, validation)"),
        ("warm_dagster_ms", "  of which building the Dagster job"),
    ]:
        values = [run[key] for run in runs]
        print(f"{label}: best {min(values):.1f} ms, median {statistics.median(values):.1f} ms")
    heavy = sorted({m for run in runs for m in run["heavy"]})
    print(f"heavy modules imported: {', '.join(heavy) or 'none'}")
    best = min(run["beyond_ms"] for run in runs)
    ok = best < TARGET_MS and not heavy
    print(f"target < {TARGET_MS:.0f} ms beyond import dagster: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
