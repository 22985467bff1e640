"""Local-to-local staging of many small files next to ``mv`` and ``cp -r``.

``--files`` files of ``--size`` bytes (10,000 of 1 KiB by default) in 10 sub-folders of a
landing folder are moved to a staging folder by:

- lakeroutine: a StagingExecutor routine, ``transfer`` + ``post_staging``, with
  ``archive_or_delete`` ``delete`` and ``archive`` (each file copied under a temporary name
  and renamed, verified, journalled; archive by hard link; one ``syncfs`` before removing);
  with ``--baseline SRC`` also the same routines run by the code in ``SRC`` (another
  checkout's ``core/src``, first on ``PYTHONPATH``): before and after in one run;
- ``cp -r landing staging`` (a copy, nothing verified or removed);
- ``cp -r landing staging && rm -r landing`` (the same move as lakeroutine's delete mode,
  without verification, journal or crash safety);
- ``mv landing staging`` (one rename of the folder: the floor).

Every round runs each on freshly landed files, the order reversed every other round; the
figures are medians, and each one's time over ``cp -r && rm -r``'s in the same round
(paired median). lakeroutine runs in a process of its own that imports it and stages a
few files before its clock starts (the work alone, as before: in process). CPU is user +
system time (the process and its threads; for the shell commands, their processes), per
file. Issue 20's targets: delete mode at most 1x on disk, 3x on tmpfs (``--dir /dev/shm``).

    .venv/bin/python benchmarks/local_staging.py [--files 10000] [--size 1024] [--repeat 3]
        [--dir /dev/shm] [--baseline ../main/core/src]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

Timed = Callable[[Path], tuple[float, float]]  # a contender: root -> (seconds, CPU seconds)


def land(root: Path, files: int, size: int) -> Path:
    landing = root / "landing"
    body = os.urandom(size)
    for folder in range(10):
        (landing / f"d{folder}").mkdir(parents=True)
    for number in range(files):
        (landing / f"d{number % 10}" / f"f{number:06}.csv").write_bytes(body)
    return landing


def routine(root: Path, mode: str, workers: int) -> dict:
    """A StagingExecutor routine moving ``root/landing`` to ``root/staging``."""
    return {
        "routine_name": "bench",
        "state_dir": str(root / "state"),
        "executors": {
            "StagingExecutor": {
                "params": {
                    "parent_directory": str(root / "landing"),
                    "dump_directory": str(root / "staging"),
                    "archive_or_delete": mode,
                    "max_workers": workers,
                },
                "tasks": ["transfer", "post_staging"],
            }
        },
    }


def child(mode: str, workers: int, root: Path, size: int) -> None:
    """In a process of its own: import, stage a few files (first-use costs), then time one
    run on ``root``; print its seconds and CPU seconds as JSON."""
    from lakeroutine.orchestrator import run_routine
    from lakeroutine.plugins import load_plugins

    def run(where: Path) -> None:
        result = run_routine(
            routine(where, mode, workers), registry=load_plugins(entry_points=False)
        )
        if result.status != "succeeded":
            raise SystemExit(f"lakeroutine failed: {[t.error for t in result.tasks]}")

    with tempfile.TemporaryDirectory(dir=root.parent) as warm:
        land(Path(warm), 10, size)
        run(Path(warm))
    cpu, started = time.process_time(), time.perf_counter()
    run(root)
    print(json.dumps([time.perf_counter() - started, time.process_time() - cpu]))


def lakeroutine_run(mode: str, workers: int, size: int, code: str | None = None) -> Timed:
    """lakeroutine's run, in a child process (``code``: a ``core/src`` to run instead)."""
    env = {**os.environ, "PYTHONPATH": code} if code else None

    def run(root: Path) -> tuple[float, float]:
        command = [sys.executable, __file__, "--child", mode, str(workers), str(root), str(size)]
        done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
        wall, cpu = json.loads(done.stdout.splitlines()[-1])
        return wall, cpu

    return run


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def shell(command: str) -> Timed:
    def run(root: Path) -> tuple[float, float]:
        cpu, started = children_cpu(), time.perf_counter()
        subprocess.run(command, shell=True, check=True, cwd=root)
        return time.perf_counter() - started, children_cpu() - cpu

    return run


def count(folder: Path) -> int:
    return sum(len(names) for _, _, names in os.walk(folder)) if folder.exists() else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8, help="StagingExecutor max_workers")
    parser.add_argument("--dir", help="where to make the files (default: the temp folder)")
    parser.add_argument("--baseline", help="a core/src folder whose code also runs, to compare")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, workers, root, size = args.child
        child(mode, int(workers), Path(root), int(size))
        return 0

    contenders: list[tuple[str, Timed]] = []
    for mode in ("delete", "archive"):
        name = f"lakeroutine, {mode} ({args.workers} workers)"
        contenders.append((name, lakeroutine_run(mode, args.workers, args.size)))
        if args.baseline:
            code = str(Path(args.baseline).resolve())
            contenders.append(
                (f"{name}, baseline", lakeroutine_run(mode, args.workers, args.size, code))
            )
    contenders += [
        ("cp -r", shell("cp -r landing staging")),
        ("cp -r && rm -r", shell("cp -r landing staging && rm -r landing")),
        ("mv (one folder rename)", shell("mv landing staging")),
    ]
    times: dict[str, list[float]] = {name: [] for name, _ in contenders}
    cpus: dict[str, list[float]] = {name: [] for name, _ in contenders}
    loads = []
    for number in range(args.repeat):
        order = contenders if number % 2 == 0 else contenders[::-1]
        for name, run in order:
            with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
                root = Path(tmp)
                land(root, args.files, args.size)
                subprocess.run(["sync"], check=True)
                loads.append(os.getloadavg()[0])
                wall, cpu = run(root)
                times[name].append(wall)
                cpus[name].append(cpu)
                if count(root / "staging") != args.files:
                    raise SystemExit(f"{name}: staging holds {count(root / 'staging')} files")

    anchor = times["cp -r && rm -r"]
    print(f"{args.files} files of {args.size} bytes, local folder to local folder, in {args.dir}")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.repeat} rounds, "
        f"order alternating, load {min(loads):.1f} to {max(loads):.1f}\n"
    )
    print(
        "| how | seconds (median) | files/s | time / `cp -r && rm -r` (paired median) "
        "| CPU ms per file (median) |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, taken in times.items():
        ratio = statistics.median(t / a for t, a in zip(taken, anchor, strict=True))
        median = statistics.median(taken)
        cpu = statistics.median(cpus[name]) / args.files * 1000
        print(f"| {name} | {median:.2f} | {args.files / median:,.0f} | {ratio:.2f}x | {cpu:.3f} |")
    if args.baseline:
        print()
        for mode in ("delete", "archive"):
            name = f"lakeroutine, {mode} ({args.workers} workers)"
            pairs = list(zip(times[name], times[f"{name}, baseline"], strict=True))
            cpu_pairs = list(zip(cpus[name], cpus[f"{name}, baseline"], strict=True))
            print(
                f"{mode}: time {statistics.median(n / b for n, b in pairs):.2f}x the baseline's, "
                f"CPU {statistics.median(n / b for n, b in cpu_pairs):.2f}x (paired medians)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
