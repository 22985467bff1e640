"""Local-to-local staging of many small files next to ``mv`` and ``cp -r``.

``--files`` files of ``--size`` bytes (10,000 of 1 KiB by default) in 10 sub-folders of a
landing folder are moved to a staging folder by:

- lakeroutine: a StagingExecutor routine, ``transfer`` + ``post_staging``, with
  ``archive_or_delete`` ``delete`` and ``archive`` (each file copied under a temporary name
  and renamed, verified, journalled; archive by hard link; one ``sync`` before removing);
- ``cp -r landing staging`` (a copy, nothing verified or removed);
- ``cp -r landing staging && rm -r landing`` (the same move as lakeroutine's delete mode,
  without verification, journal or crash safety);
- ``mv landing staging`` (one rename of the folder: the floor).

Every round runs each on freshly landed files, the order reversed every other round; the
figures are medians, and each one's time over ``cp -r && rm -r``'s in the same round
(paired median). Issue 20's targets: delete mode at most 1x on disk, 3x on tmpfs
(``--dir /dev/shm``).

    .venv/bin/python benchmarks/local_staging.py [--files 10000] [--size 1024] [--repeat 3]
        [--dir /dev/shm]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


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


def lakeroutine_run(mode: str, workers: int) -> Callable[[Path], None]:
    def run(root: Path) -> None:
        from lakeroutine.orchestrator import run_routine
        from lakeroutine.plugins import load_plugins

        result = run_routine(
            routine(root, mode, workers), registry=load_plugins(entry_points=False)
        )
        if result.status != "succeeded":
            raise SystemExit(f"lakeroutine failed: {[t.error for t in result.tasks]}")

    return run


def shell(command: str) -> Callable[[Path], None]:
    def run(root: Path) -> None:
        subprocess.run(command, shell=True, check=True, cwd=root)

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
    args = parser.parse_args()

    contenders: list[tuple[str, Callable[[Path], None]]] = [
        (f"lakeroutine, delete ({args.workers} workers)", lakeroutine_run("delete", args.workers)),
        (
            f"lakeroutine, archive ({args.workers} workers)",
            lakeroutine_run("archive", args.workers),
        ),
        ("cp -r", shell("cp -r landing staging")),
        ("cp -r && rm -r", shell("cp -r landing staging && rm -r landing")),
        ("mv (one folder rename)", shell("mv landing staging")),
    ]
    # Imports and first-use costs are paid before the first timed round.
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        land(Path(tmp), 10, args.size)
        contenders[0][1](Path(tmp))
    times: dict[str, list[float]] = {name: [] for name, _ in contenders}
    for number in range(args.repeat):
        order = contenders if number % 2 == 0 else contenders[::-1]
        for name, run in order:
            with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
                root = Path(tmp)
                land(root, args.files, args.size)
                subprocess.run(["sync"], check=True)
                started = time.perf_counter()
                run(root)
                times[name].append(time.perf_counter() - started)
                if count(root / "staging") != args.files:
                    raise SystemExit(f"{name}: staging holds {count(root / 'staging')} files")

    anchor = times["cp -r && rm -r"]
    print(f"{args.files} files of {args.size} bytes, local folder to local folder, in {args.dir}")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.repeat} rounds, "
        f"order alternating, load {os.getloadavg()[0]:.1f}\n"
    )
    print("| how | seconds (median) | files/s | time / `cp -r && rm -r` (paired median) |")
    print("| --- | ---: | ---: | ---: |")
    for name, taken in times.items():
        ratio = statistics.median(t / a for t, a in zip(taken, anchor, strict=True))
        median = statistics.median(taken)
        print(f"| {name} | {median:.2f} | {args.files / median:,.0f} | {ratio:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
