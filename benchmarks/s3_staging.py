"""Staging on S3 next to ``aws s3 mv --recursive``, both against one moto server process.

Moves ``--objects`` objects of ``--size`` bytes (2,000 of 1 KiB by default) from a landing
prefix to a staging prefix of the same bucket:

- lakeroutine: a StagingExecutor routine, ``transfer`` + ``post_staging`` with
  ``archive_or_delete: delete`` (one CopyObject per object, verified from its answer and the
  listing; DeleteObjects in batches of 1,000);
- the AWS CLI: ``aws s3 mv --recursive`` (CopyObject + DeleteObject per object).

The CLI runs from its own virtualenv (it pins botocore and would change ours): by default
``~/.cache/lakeroutine/venv-awscli``, created with ``pip install awscli`` if missing (PyPI
access needed once), or ``--aws /path/to/aws``. Each tool gets freshly landed objects; the
figure is the best of ``--repeat`` runs. Target: lakeroutine at least 1.5 times the CLI's
objects per second (the script exits 1 if it misses).

    .venv/bin/python benchmarks/s3_staging.py [--objects 2000] [--size 1024] [--repeat 3]
        [--state local|s3]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

BUCKET = "bench"
AWSCLI_VENV = Path.home() / ".cache" / "lakeroutine" / "venv-awscli"
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "bench-key",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    """A separate ``moto_server`` process on loopback; returns it and its URL."""
    port = free_port()
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    process = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
            return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("moto_server did not start")


def aws_cli(path: str | None) -> str:
    if path:
        return path
    aws = AWSCLI_VENV / "bin" / "aws"
    if not aws.exists():
        print(f"installing awscli into {AWSCLI_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(AWSCLI_VENV)], check=True)
        pip = AWSCLI_VENV / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", "awscli"], check=True)
    return str(aws)


def land(client: Any, prefix: str, count: int, size: int) -> None:
    body = os.urandom(size)
    with cf.ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda i: client.put_object(
                    Bucket=BUCKET, Key=f"{prefix}d{i % 10}/o{i:06}", Body=body
                ),
                range(count),
            )
        )


def count(client: Any, prefix: str) -> int:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sum(page.get("KeyCount", 0) for page in pages)


def cpu_seconds(pid: int | None = None, children: bool = False) -> float:
    """CPU time used so far by this process, its waited-for children, or process ``pid``
    (from /proc: Linux only; 0.0 elsewhere)."""
    if pid is not None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_lakeroutine(run: int, state: str, workers: int) -> float:
    from lakeroutine.orchestrator import run_routine
    from lakeroutine.plugins import load_plugins

    routine = {
        "routine_name": f"bench{run}",
        "state": state,
        "executors": {
            "StagingExecutor": {
                "params": {
                    "parent_directory": f"s3://{BUCKET}/landing{run}/",
                    "dump_directory": f"s3://{BUCKET}/staging{run}/",
                    "archive_or_delete": "delete",
                    "max_workers": workers,
                },
                "tasks": ["transfer", "post_staging"],
            }
        },
    }
    registry = load_plugins(env={"LAKEROUTINE_PLUGINS": "s3"})
    started = time.perf_counter()
    result = run_routine(routine, registry=registry)
    elapsed = time.perf_counter() - started
    if result.status != "succeeded":
        raise SystemExit(f"lakeroutine run failed: {[t.error for t in result.tasks]}")
    return elapsed


def run_cli(aws: str, run: int) -> float:
    command = [aws, "s3", "mv", "--recursive", "--only-show-errors"]
    command += [f"s3://{BUCKET}/cli-landing{run}/", f"s3://{BUCKET}/cli-staging{run}/"]
    started = time.perf_counter()
    subprocess.run(command, check=True, env=os.environ.copy())
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8, help="StagingExecutor max_workers")
    parser.add_argument("--aws", help="the aws command (default: its own virtualenv)")
    parser.add_argument(
        "--state",
        choices=("local", "s3"),
        default="local",
        help="where lakeroutine keeps its journal: local SQLite, or s3://bench/state/",
    )
    args = parser.parse_args()

    aws = aws_cli(args.aws)
    moto, url = start_moto()
    os.environ.update(FAKE_ENV, AWS_ENDPOINT_URL=url)
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    ours, cli = [], []
    cpu = {"ours": [0.0, 0.0], "cli": [0.0, 0.0]}  # client, server CPU seconds (all runs)

    def timed(name: str, action: Any, children: bool) -> float:
        client_before, server_before = cpu_seconds(children=children), cpu_seconds(moto.pid)
        elapsed = action()
        cpu[name][0] += cpu_seconds(children=children) - client_before
        cpu[name][1] += cpu_seconds(moto.pid) - server_before
        return float(elapsed)

    try:
        with tempfile.TemporaryDirectory() as state:
            where = state if args.state == "local" else f"s3://{BUCKET}/state/"
            for run in range(args.repeat):
                land(client, f"landing{run}/", args.objects, args.size)
                ours.append(
                    timed("ours", lambda r=run: run_lakeroutine(r, where, args.workers), False)
                )
                assert count(client, f"staging{run}/") == args.objects
                assert count(client, f"landing{run}/") == 0
                land(client, f"cli-landing{run}/", args.objects, args.size)
                cli.append(timed("cli", lambda r=run: run_cli(aws, r), True))
                assert count(client, f"cli-staging{run}/") == args.objects
                assert count(client, f"cli-landing{run}/") == 0
    finally:
        moto.terminate()
        moto.wait()

    rate_ours, rate_cli = args.objects / min(ours), args.objects / min(cli)
    print(
        f"{args.objects} objects of {args.size} bytes, landing -> staging on one moto_server, "
        f"{args.state} state"
    )
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, best of {args.repeat}\n")
    print("| tool | seconds (best) | seconds (all) | objects/s | CPU ms/object client + server |")
    print("| --- | ---: | --- | ---: | ---: |")
    total = args.objects * args.repeat
    for name, key, times, rate in (
        (
            f"lakeroutine transfer + post_staging (delete), {args.workers} workers",
            "ours",
            ours,
            rate_ours,
        ),
        ("aws s3 mv --recursive", "cli", cli, rate_cli),
    ):
        shown = ", ".join(f"{t:.2f}" for t in times)
        client_ms, server_ms = (1000 * c / total for c in cpu[key])
        print(
            f"| {name} | {min(times):.2f} | {shown} | {rate:.0f} "
            f"| {client_ms:.1f} + {server_ms:.1f} |"
        )
    ratio = rate_ours / rate_cli
    print(f"\nlakeroutine / CLI: {ratio:.2f}x objects/s (target >= 1.5x)")
    cpu_ratio = sum(cpu["cli"]) / max(sum(cpu["ours"]), 1e-9)
    print(f"CPU per object, CLI / lakeroutine: {cpu_ratio:.2f}x (the load-independent view)")
    return 0 if ratio >= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
