"""CSV -> Parquet through staging: how it scales with ``max_workers``, and what it costs over
a plain pyarrow script.

Two comparisons, each side by side (every case once a round, the order reversed every other
round), figures the median of the rounds' paired ratios:

- ``workers``: ``--files`` CSV files (97.5 MiB in all) staged by ``transfer`` with
  ``lakeroutine.transforms:csv_to_parquet``, ``max_workers`` 1 (the anchor) against 2
  (``workers: auto``, which runs ``csv_to_parquet`` on threads: pyarrow releases the GIL),
  and 2 with ``workers: processes`` and ``workers: threads``. Target: 2 workers (auto) at
  least 1.6x as fast as 1.
- ``single``: one 97.5 MiB CSV file staged the same way (default ``max_workers``) against
  the plain script ``pq.write_table(pa_csv.read_csv(source), target)``. Target: within 1.1x.

Every sample runs in a fresh process that imports what it needs (lakeroutine and pyarrow,
or pyarrow) before its clock starts: the figures are "in process", the work alone. One
untimed sample of each case runs first with bytecode writing allowed, so no round compiles
Python sources (an installed package has its bytecode; ``PYTHONDONTWRITEBYTECODE`` and an
editable install would otherwise charge a worker process's start with compiling). Landing
files are written once (``transfer`` only reads them); each sample gets a new staging
folder and state. Wall-clock seconds and CPU seconds (the process and its worker
processes) are printed; on a loaded machine read the ratios, with the load printed beside.

    .venv/bin/python benchmarks/transform_workers.py [--rounds 7] [--only workers|single]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOTAL_BYTES = int(97.5 * 2**20)
JOBS = ("engineer", "analyst", "manager", "clerk", "driver", "nurse")


def csv_text(size: int, seed: int) -> str:
    """About ``size`` bytes of CSV: ints, floats, dates and short strings."""
    pick = random.Random(seed)
    lines = ["id,name,amount,day,job,quantity"]
    written = 0
    number = 0
    while written < size:
        line = (
            f"{number},name{pick.randrange(100000)},{pick.random() * 1000:.2f},"
            f"2024-{pick.randrange(1, 13):02}-{pick.randrange(1, 29):02},"
            f"{pick.choice(JOBS)},{pick.randrange(1000)}"
        )
        lines.append(line)
        written += len(line) + 1
        number += 1
    return "\n".join(lines) + "\n"


def land(root: Path, files: int) -> tuple[Path, Path]:
    """``many/`` with ``files`` files and ``one/`` with one file, 97.5 MiB each folder."""
    many, one = root / "many", root / "one"
    many.mkdir()
    one.mkdir()
    body = csv_text(TOTAL_BYTES // files, 1)
    for number in range(files):
        (many / f"part-{number:03}.csv").write_text(body)
    (one / "sales.csv").write_text(csv_text(TOTAL_BYTES, 2))
    return many, one


# -- one sample, in a child process ----------------------------------------------------------


def child(case: str, landing: str, work: str, workers: int, mode: str) -> dict[str, float]:
    """Run one case with imports done, timing only the work."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    if case == "plain":

        def action() -> None:
            out = Path(work, "out")
            out.mkdir()
            for source in sorted(Path(landing).iterdir()):
                pq.write_table(pa_csv.read_csv(source), out / (source.name + ".parquet"))

    else:
        from lakeroutine.orchestrator import run_routine
        from lakeroutine.plugins import load_plugins

        registry = load_plugins(entry_points=False)
        params = {
            "parent_directory": landing,
            "dump_directory": str(Path(work, "staging")),
            "py_exec_path": os.environ.get(
                "BENCH_TRANSFORM", "lakeroutine.transforms:csv_to_parquet"
            ),
        }
        if mode != "auto":  # the default (left out, so code before it can be measured)
            params["workers"] = mode
        if workers:
            params["max_workers"] = workers
        routine = {
            "routine_name": "bench",
            "state_dir": str(Path(work, "state")),
            "executors": {"StagingExecutor": {"params": params, "tasks": ["transfer"]}},
        }

        def action() -> None:
            result = run_routine(routine, registry=registry)
            if result.status != "succeeded":
                raise SystemExit(f"lakeroutine failed: {[t.error for t in result.tasks]}")

    def cpu(who: int) -> float:
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    own, kids, started = (
        cpu(resource.RUSAGE_SELF),
        cpu(resource.RUSAGE_CHILDREN),
        time.perf_counter(),
    )
    action()
    wall = time.perf_counter() - started
    kids = cpu(resource.RUSAGE_CHILDREN) - kids
    return {"wall": wall, "cpu": cpu(resource.RUSAGE_SELF) - own + kids, "workers_cpu": kids}


def sample(
    case: str,
    landing: Path,
    workers: int = 0,
    mode: str = "auto",
    code: str | None = None,
    warm: bool = False,
) -> dict[str, float]:
    """One sample in a fresh process; ``code``: a ``core/src`` folder to run instead;
    ``warm``: bytecode may be written (the untimed first sample)."""
    env = {**os.environ, **({"PYTHONPATH": code} if code else {})}
    if warm:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="bench-", dir=landing.parent) as work:
        command = [sys.executable, __file__, "--child", case, str(landing), work]
        command += [str(workers), mode]
        done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
        outputs = Path(work, "staging" if case == "ours" else "out")
        if len(list(outputs.iterdir())) != len(list(landing.iterdir())):
            raise SystemExit(f"{case}: not every file was written")
        return json.loads(done.stdout.splitlines()[-1])


# -- the comparisons ---------------------------------------------------------------------------


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def warm_up(cases: dict[str, tuple]) -> None:
    """One untimed sample of each case, writing the bytecode of what it imports."""
    for case in cases.values():
        sample(*case, warm=True)


def compare(title: str, cases: dict[str, tuple], rounds: int) -> dict[str, list[dict]]:
    """Run every case once a round, the order reversed every other round."""
    warm_up(cases)
    print(f"\n{title} ({load()})", flush=True)
    figures: dict[str, list[dict]] = {name: [] for name in cases}
    names = list(cases)
    for number in range(rounds):
        for name in names if number % 2 == 0 else reversed(names):
            figures[name].append(sample(*cases[name]))
        print(
            f"  round {number + 1}: "
            + ", ".join(f"{n} {figures[n][-1]['wall']:.2f} s" for n in names),
            flush=True,
        )
    return figures


def report(figures: dict[str, list[dict]], anchor: str, faster: bool) -> dict[str, float]:
    """Each case's medians and its paired ratio to ``anchor`` (anchor / case when
    ``faster``: a speed-up; case / anchor otherwise: a cost)."""
    ratios = {}
    base = figures[anchor]
    for name, runs in figures.items():
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        workers = statistics.median(r["workers_cpu"] for r in runs)
        pairs = [
            (a["wall"] / r["wall"]) if faster else (r["wall"] / a["wall"])
            for a, r in zip(base, runs, strict=True)
        ]
        ratios[name] = statistics.median(pairs)
        shown = "" if name == anchor else f"  {ratios[name]:.2f}x {'speed' if faster else 'time'}"
        split = f" ({workers:.2f} in workers)" if workers else ""
        print(f"  {name:<34} wall {wall:6.2f} s  cpu {cpu:6.2f} s{split}{shown}")
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--only", choices=("workers", "single"))
    parser.add_argument(
        "--transform",
        default="lakeroutine.transforms:csv_to_parquet",
        help="the per-file transformation staged through (e.g. the pure-Python "
        "lakeroutine.transforms:rename_csv_columns)",
    )
    parser.add_argument(
        "--before",
        metavar="CORE_SRC",
        help="also run the code in this core/src folder (an older checkout) in the same rounds",
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, landing, work, workers, mode = args.child
        print(json.dumps(child(case, landing, work, int(workers), mode)))
        return 0

    os.environ["BENCH_TRANSFORM"] = args.transform  # for the samples' processes
    missed = False
    with tempfile.TemporaryDirectory(prefix="lakeroutine-bench-") as tmp:
        many, one = land(Path(tmp), args.files)
        print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {args.rounds} rounds")
        if args.only in (None, "workers"):
            cases = {
                "max_workers 1": ("ours", many, 1),
                "max_workers 2 (auto)": ("ours", many, 2),
                "max_workers 2, workers: processes": ("ours", many, 2, "processes"),
                "max_workers 2, workers: threads": ("ours", many, 2, "threads"),
            }
            if args.before:
                cases["before: max_workers 1"] = ("ours", many, 1, "auto", args.before)
                cases["before: max_workers 2"] = ("ours", many, 2, "auto", args.before)
            figures = compare(
                f"{args.transform}, {args.files} files of {TOTAL_BYTES // args.files:,} bytes",
                cases,
                args.rounds,
            )
            ratios = report(figures, "max_workers 1", faster=True)
            if args.before:
                old = report(
                    {k: v for k, v in figures.items() if k.startswith("before")},
                    "before: max_workers 1",
                    faster=True,
                )
                print(f"  before: 2 workers {old['before: max_workers 2']:.2f}x 1 worker")
            speedup = ratios["max_workers 2 (auto)"]
            missed |= speedup < 1.6
            print(f"  target: 2 workers >= 1.6x 1 worker: {'met' if speedup >= 1.6 else 'MISSED'}")
        if args.only in (None, "single"):
            figures = compare(
                f"CSV -> Parquet, one file of {TOTAL_BYTES:,} bytes",
                {
                    "plain pyarrow script": ("plain", one),
                    "lakeroutine transfer": ("ours", one),
                    **(
                        {"before: transfer": ("ours", one, 0, "auto", args.before)}
                        if args.before
                        else {}
                    ),
                },
                args.rounds,
            )
            ratio = report(figures, "plain pyarrow script", faster=False)["lakeroutine transfer"]
            missed |= ratio > 1.1
            print(f"  target: within 1.1x the plain script: {'met' if ratio <= 1.1 else 'MISSED'}")
        print(f"\n{load()}")
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
