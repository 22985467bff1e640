"""Peak memory (RSS) of staging many local files: it must stay flat as the files grow.

For each ``--files`` count, lands that many files of ``--size`` bytes in folders of
``--per-folder`` (under ``--dir``: tmpfs, e.g. ``/dev/shm``, holds a million tiny files
quickly), then runs ``transfer`` + ``post_staging`` (delete mode, local SQLite state) in a
fresh process and reads its peak resident set (``VmHWM``). Target (issue 20 point 4): the
largest count within 1.2x of the smallest.

    .venv/bin/python benchmarks/local_staging_memory.py [--files 10000 1000000]
        [--per-folder 1000] [--size 16] [--workers 8] [--dir /dev/shm]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from local_staging import routine

CHILD = """
import json, sys
from lakeroutine.orchestrator import run_routine
from lakeroutine.plugins import load_plugins
result = run_routine(json.loads(sys.argv[1]), registry=load_plugins(entry_points=False))
status = [line for line in open("/proc/self/status") if line.startswith("VmHWM")]
print(json.dumps({
    "status": result.status,
    "staged": result.tasks[0].output.get("staged"),
    "deleted": result.tasks[1].output.get("deleted") if len(result.tasks) > 1 else None,
    "peak_kib": int(status[0].split()[1]),
}))
"""


def land(landing: Path, files: int, per_folder: int, size: int) -> None:
    body = b"x" * size
    for number in range(files):
        folder = landing / f"d{number // per_folder:05}"
        if number % per_folder == 0:
            folder.mkdir(parents=True)
        with open(folder / f"landing_file_{number:07}.csv", "wb") as handle:
            handle.write(body)


def measure(root: Path, files: int, per_folder: int, size: int, workers: int) -> dict:
    land(root / "landing", files, per_folder, size)
    spec = routine(root, "delete", workers)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    outcome = json.loads(done.stdout.splitlines()[-1])
    outcome["seconds"] = time.perf_counter() - started
    if outcome["status"] != "succeeded" or outcome["deleted"] != files:
        raise SystemExit(f"{files} files: {outcome}")
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--per-folder", type=int, default=1000)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    args = parser.parse_args()

    print(
        f"files of {args.size} bytes, {args.per_folder} a folder, in {args.dir}, "
        f"{args.workers} workers, python {sys.version.split()[0]}\n"
    )
    print("| files | peak RSS MiB | KiB per 1,000 files beyond the first count | seconds |")
    print("| ---: | ---: | ---: | ---: |")
    first: tuple[int, int] | None = None
    for files in args.files:
        root = Path(tempfile.mkdtemp(prefix="staging-memory-", dir=args.dir))
        try:
            outcome = measure(root, files, args.per_folder, args.size, args.workers)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        peak = outcome["peak_kib"]
        first = first or (files, peak)
        growth = (peak - first[1]) / max(files - first[0], 1) * 1000
        print(f"| {files:,} | {peak / 1024:.1f} | {growth:.1f} | {outcome['seconds']:.0f} |")
    ratio = peak / first[1] if first else 1.0
    print(f"\npeak RSS at {args.files[-1]:,} / at {args.files[0]:,}: {ratio:.2f}x (target 1.2x)")
    return 0 if ratio <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
