"""SFTP staging next to ``rclone move`` (Debian's rclone), both on the same OpenSSH sshd
on loopback, measured fairly: a fresh server for each round, both landing sets landed
before either tool runs, the order reversed every other round, paired medians.

Moves ``--files`` files of ``--size`` bytes (1,000 of 1 KiB by default) from a landing
folder to a staging folder of the same server:

- lakeroutine: a StagingExecutor routine, ``transfer`` + ``post_staging`` (``copy-data``
  into a private temporary name, fsync, create-only rename; then each landing file claimed
  by rename, checked, and removed or archived);
- delete mode: ``rclone move landing staging`` (one rename per file on the server: nothing
  is kept apart from landing); archive mode: ``rclone copy landing staging && rclone move
  landing archive`` (the same end state as lakeroutine's).

Wall-clock seconds and client CPU (lakeroutine runs in this process, its imports done
before the clock starts; rclone's CPU is its child-process rusage) are printed per round,
then medians and the median of the per-round ratios.

    .venv/bin/python benchmarks/sftp_staging.py [--files 1000] [--size 1024]
        [--mode delete|archive] [--repeat 5] [--workers 8] [--channels 4]
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "sftp" / "tests"))

from sftp_servers import SftpServer, remove, sshd_available, start_openssh  # noqa: E402


def land(server: SftpServer, folder: str, count: int, body: bytes) -> None:
    """``count`` files in 10 sub-folders of ``folder``, written straight to the server's disk."""
    for i in range(count):
        server.write(f"{folder}/d{i % 10}/f{i:06}", body)


def count(server: SftpServer, folder: str) -> int:
    base = server.root / folder
    return sum(len(names) for _, _, names in os.walk(base)) if base.exists() else 0


def run_lakeroutine(
    server: SftpServer, tag: str, mode: str, workers: int, state: str, channels: int | None
) -> None:
    from lakeroutine.orchestrator import run_routine
    from lakeroutine.plugins import load_plugins

    params = {
        "parent_directory": server.url(f"{tag}-landing/"),
        "dump_directory": server.url(f"{tag}-staging/"),
        "archive_directory": server.url(f"{tag}-archive/"),
        "archive_or_delete": mode,
        "max_workers": workers,
        "storage_options": server.options(**({"channels": channels} if channels else {})),
    }
    routine = {
        "routine_name": f"bench-{tag}",
        "state_dir": state,
        "executors": {"StagingExecutor": {"params": params, "tasks": ["transfer", "post_staging"]}},
    }
    result = run_routine(routine, registry=load_plugins(env={"LAKEROUTINE_PLUGINS": "sftp"}))
    if result.status != "succeeded":
        raise SystemExit(f"lakeroutine run failed: {[t.error for t in result.tasks]}")


def run_rclone(server: SftpServer, tag: str, mode: str, workers: int) -> None:
    s = server
    flags = ["--sftp-host", s.host, "--sftp-port", str(s.port), "--sftp-user", s.user]
    flags += ["--sftp-key-file", str(s.key_file), "--sftp-known-hosts-file", str(s.known_hosts)]
    flags += ["--transfers", str(workers), "--checkers", str(workers), "-q"]

    def remote(folder: str) -> str:
        return f":sftp:{s.root}/{tag}-{folder}"

    if mode == "archive":
        command = ["rclone", "copy", remote("landing"), remote("staging"), *flags]
        subprocess.run(command, check=True)
        command = ["rclone", "move", remote("landing"), remote("archive"), *flags]
    else:
        command = ["rclone", "move", remote("landing"), remote("staging"), *flags]
    subprocess.run(command, check=True)


def timed(run: Any) -> tuple[float, float]:
    """Wall-clock and CPU seconds (this process's and its children's) of ``run()``."""

    def cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    cpu0, wall0 = cpu(), time.perf_counter()
    run()
    return time.perf_counter() - wall0, cpu() - cpu0


def check(server: SftpServer, tag: str, mode: str, files: int) -> None:
    """Every file staged, none left in landing, every one archived in archive mode."""
    got = (count(server, f"{tag}-staging"), count(server, f"{tag}-landing"))
    archived = count(server, f"{tag}-archive")
    if got != (files, 0) or (mode == "archive" and archived != files):
        raise SystemExit(f"{tag}: staging, landing, archive hold {got} {archived} files")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--mode", choices=["delete", "archive"], default="delete")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=8, help="max_workers and --transfers")
    parser.add_argument("--channels", type=int, help="SFTP sessions per connection (lakeroutine)")
    args = parser.parse_args()
    problem = sshd_available()
    if problem:
        raise SystemExit(problem)
    import lakeroutine.orchestrator  # noqa: F401  (imports paid before any clock starts)
    import lakeroutine_sftp.storage  # noqa: F401

    version = subprocess.run(["rclone", "version"], capture_output=True, text=True).stdout
    body = os.urandom(args.size)
    rounds: list[dict[str, tuple[float, float]]] = []
    for number in range(args.repeat):
        folder = Path(tempfile.mkdtemp(prefix="bench-sftp-"))
        server = start_openssh(folder)
        try:
            for tag in ("ours", "rclone"):
                land(server, f"{tag}-landing", args.files, body)
            subprocess.run(["sync"], check=True)
            runs = {
                "ours": functools.partial(
                    run_lakeroutine,
                    server,
                    "ours",
                    args.mode,
                    args.workers,
                    str(folder / "state"),
                    args.channels,
                ),
                "rclone": functools.partial(run_rclone, server, "rclone", args.mode, args.workers),
            }
            order = ["ours", "rclone"] if number % 2 == 0 else ["rclone", "ours"]
            measured = {tag: timed(runs[tag]) for tag in order}
            for tag in order:
                check(server, tag, args.mode, args.files)
            rounds.append(measured)
            ours, theirs = measured["ours"], measured["rclone"]
            print(
                f"round {number + 1} ({' first, '.join(order)} second): lakeroutine "
                f"{ours[0]:.2f} s ({ours[1]:.2f} s CPU), rclone {theirs[0]:.2f} s "
                f"({theirs[1]:.2f} s CPU): {theirs[0] / ours[0]:.2f}x",
                flush=True,
            )
        finally:
            remove(server, folder)

    def median(tag: str, which: int) -> float:
        return statistics.median(r[tag][which] for r in rounds)

    speed = statistics.median(r["rclone"][0] / r["ours"][0] for r in rounds)
    cpu = statistics.median(r["ours"][1] / r["rclone"][1] for r in rounds)
    anchor = "rclone copy + rclone move" if args.mode == "archive" else "rclone move"
    print(f"\nsftp (OpenSSH): {args.files} files of {args.size} bytes, {args.mode} mode")
    print(f"python {sys.version.split()[0]}, {version.splitlines()[0]}, {os.cpu_count()} cores")
    print(f"{args.repeat} rounds, {args.workers} workers / transfers, load {os.getloadavg()}\n")
    print("| tool | seconds (median) | client CPU ms per file (median) |")
    print("| --- | ---: | ---: |")
    for tag, name in (("ours", "lakeroutine"), ("rclone", anchor)):
        per_file = median(tag, 1) * 1000 / args.files
        print(f"| {name} | {median(tag, 0):.2f} | {per_file:.3f} |")
    print(f"\nlakeroutine: {speed:.2f}x {anchor}'s speed; client CPU {cpu:.1f}x (paired medians)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
