"""What the safety contract costs: staging with this code beside staging with the code of an
earlier commit (issue 17's "before"), side by side on one server, the order alternating.

For each round, each code tree stages ``--objects`` freshly landed objects (or files) in a
process of its own, with its sources first on ``PYTHONPATH`` (the earlier commit's ``core``
and ``plugins/s3`` sources are exported with ``git archive``):

- ``--storage s3 --state s3``: S3 to S3 on one ``moto_server``, the journal on S3;
- ``--storage s3 --state local``: the same, the journal in local SQLite;
- ``--storage local``: local folder to local folder (``--dir``, e.g. ``/dev/shm``), SQLite.

Each run reports the S3 requests it made (botocore API calls, counted in the run's process),
its CPU time (imports excluded) and moto's CPU time meanwhile. Figures are medians of
the rounds and the median of each round's ratio now / before (paired).

    .venv/bin/python benchmarks/guarantee_cost.py --before 614aa16 [--storage s3]
        [--state s3] [--objects 2000] [--rounds 5] [--workers 8] [--dir /dev/shm]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from s3_staging import BUCKET, FAKE_ENV, land, server_cpu, start_moto

REPO = Path(__file__).resolve().parent.parent

RUN = """
import json, resource, sys, time
import botocore.client
from lakeroutine.orchestrator import run_routine
from lakeroutine.plugins import load_plugins
calls = [0]
make_api_call = botocore.client.BaseClient._make_api_call
def counted(client, operation, params):  # every S3 request the run makes, counted
    calls[0] += 1
    return make_api_call(client, operation, params)
botocore.client.BaseClient._make_api_call = counted
routine = json.loads(sys.argv[1])
registry = load_plugins(env={"LAKEROUTINE_PLUGINS": "s3"})
usage = resource.getrusage(resource.RUSAGE_SELF)
started = time.perf_counter()
result = run_routine(routine, registry=registry)
wall = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
staged = result.tasks[0].output.get("staged") if result.tasks else None
print(json.dumps(
    {"status": result.status, "cpu": cpu, "wall": wall, "staged": staged, "requests": calls[0]}
))
"""


def export(rev: str, into: Path) -> Path:
    """The sources of ``rev`` (core and the S3 plugin) in ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "core/src", "plugins/s3/src"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def pythonpath(tree: Path) -> str:
    return os.pathsep.join([str(tree / "core" / "src"), str(tree / "plugins" / "s3" / "src")])


def routine(name: str, parent: str, dump: str, state: str, workers: int) -> dict:
    return {
        "routine_name": name,
        "state": state,
        "executors": {
            "StagingExecutor": {
                "params": {
                    "parent_directory": parent,
                    "dump_directory": dump,
                    "archive_or_delete": "delete",
                    "max_workers": workers,
                },
                "tasks": ["transfer", "post_staging"],
            }
        },
    }


def land_local(folder: Path, files: int, size: int) -> None:
    body = os.urandom(size)
    for number in range(files):
        path = folder / f"d{number % 10}" / f"f{number:06}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the earlier commit (e.g. 614aa16)")
    parser.add_argument("--storage", choices=("s3", "local"), default="s3")
    parser.add_argument("--state", choices=("s3", "local"), default="s3")
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--dir", help="where local files go (default: the temp folder)")
    args = parser.parse_args()
    s3 = args.storage == "s3"

    work = Path(tempfile.mkdtemp(prefix="guarantee-cost-", dir=args.dir))
    trees = {"before": export(args.before, Path(tempfile.mkdtemp())), "now": REPO}
    moto = url = None
    if s3:
        moto, url = start_moto()
        os.environ.update(FAKE_ENV, AWS_ENDPOINT_URL=url)
        import boto3

        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
    results: dict[str, list[dict]] = {"before": [], "now": []}
    try:
        for number in range(args.rounds):
            order = ["before", "now"] if number % 2 == 0 else ["now", "before"]
            for name in order:
                tag = f"{name}{number}"
                if s3:
                    land(client, f"landing-{tag}/", args.objects, os.urandom(args.size))
                    parent, dump = f"s3://{BUCKET}/landing-{tag}/", f"s3://{BUCKET}/staging-{tag}/"
                else:
                    land_local(work / f"landing-{tag}", args.objects, args.size)
                    parent, dump = str(work / f"landing-{tag}"), str(work / f"staging-{tag}")
                state = (
                    f"s3://{BUCKET}/state-{tag}/"
                    if s3 and args.state == "s3"
                    else str(work / f"state-{tag}")
                )
                env = {**os.environ, "PYTHONPATH": pythonpath(trees[name])}
                spec = json.dumps(routine(f"cost{tag}", parent, dump, state, args.workers))
                server = server_cpu(moto.pid) if moto else 0.0
                done = subprocess.run(
                    [sys.executable, "-c", RUN, spec], env=env, capture_output=True, check=True
                )
                outcome = json.loads(done.stdout.splitlines()[-1])
                if outcome["status"] != "succeeded" or outcome["staged"] != args.objects:
                    raise SystemExit(f"{name}: {outcome}")
                outcome["server"] = (server_cpu(moto.pid) - server) if moto else 0.0
                results[name].append(outcome)
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(trees["before"], ignore_errors=True)

    print(
        f"{args.objects} objects of {args.size} bytes, {args.storage} storage, "
        f"{args.state if s3 else 'local'} state, {args.workers} workers, {args.rounds} rounds, "
        f"load {os.getloadavg()[0]:.1f}; before = {args.before}"
    )
    per = 1000 / args.objects
    print("\n| | before | now | now / before (paired median) |")
    print("| --- | ---: | ---: | ---: |")
    rows = [("client CPU ms per object", "cpu", per), ("wall s", "wall", 1.0)]
    if s3:
        rows[1:1] = [
            ("moto CPU ms per object", "server", per),
            ("requests per object", "requests", 1 / args.objects),
        ]
    for label, key, scale in rows:
        before = [r[key] for r in results["before"]]
        now = [r[key] for r in results["now"]]
        ratios = [n / b for n, b in zip(now, before, strict=True) if b]
        print(
            f"| {label} | {statistics.median(before) * scale:.3f} "
            f"| {statistics.median(now) * scale:.3f} | {statistics.median(ratios):.3f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
