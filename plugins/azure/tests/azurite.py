"""Azurite (npm's azurite 3.37.0) on loopback, in memory; its well-known development account
and connection strings for it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

ACCOUNT = "devstoreaccount1"  # Azurite's well-known development account and key
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def connection_string(endpoint: str, key: str = KEY) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={key};"
        f"BlobEndpoint={endpoint}/{ACCOUNT};"
    )


def azurite_command() -> str:
    """``azurite-blob``: $AZURITE_BLOB, on PATH, or where .ci/run installs it."""
    found = os.environ.get("AZURITE_BLOB") or shutil.which("azurite-blob")
    local = ROOT / ".azurite" / "node_modules" / ".bin" / "azurite-blob"
    if found:
        return found
    if local.exists():
        return str(local)
    npm = shutil.which("npm")
    if npm:  # first run on this checkout: install it where .ci/run would (about a minute)
        with _install_lock():  # one pytest-xdist worker installs, the others wait for it
            if local.exists():
                return str(local)
            _npm_install(npm)
        if local.exists():
            return str(local)
    raise RuntimeError(
        "Azurite is not installed: `npm install --prefix .azurite azurite@3.37.0` from the "
        "repository root (.ci/run does it), or set AZURITE_BLOB"
    )


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """An exclusive lock on ``.azurite/.install-lock`` while Azurite is installed."""
    import fcntl

    (ROOT / ".azurite").mkdir(exist_ok=True)
    with open(ROOT / ".azurite" / ".install-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _npm_install(npm: str) -> None:
    """``npm install azurite@3.37.0`` into ``.azurite/``."""
    subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(ROOT / ".azurite"),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "azurite@3.37.0",
        ],
        check=True,
        timeout=600,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_azurite() -> Iterator[str]:
    """Azurite's blob service on loopback, in memory; yields its endpoint URL."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="azurite-")  # its debug log and lock files
    command = [azurite_command(), "--blobHost", "127.0.0.1", "--blobPort", str(port)]
    command += ["--inMemoryPersistence", "--silent", "--skipApiVersionCheck"]
    process = subprocess.Popen(
        command,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/{ACCOUNT}?comp=list", timeout=2)
            except urllib.error.HTTPError:
                break  # answering (unauthenticated requests get 403)
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("Azurite did not start") from None
                time.sleep(0.1)
            else:
                break
        yield url
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # node and its children
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
