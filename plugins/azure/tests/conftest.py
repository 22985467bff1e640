"""Fixtures of the Azure plugin's tests: Azurite's blob service on loopback, a container,
helpers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the proxy module beside this file

from azure_proxy import azure_proxy
from azurite import ACCOUNT, connection_string

ROOT = Path(__file__).resolve().parents[3]
CONTAINER = "lake"


def azurite_command() -> str:
    """``azurite-blob``: $AZURITE_BLOB, on PATH, or where .ci/run installs it."""
    found = os.environ.get("AZURITE_BLOB") or shutil.which("azurite-blob")
    local = ROOT / ".azurite" / "node_modules" / ".bin" / "azurite-blob"
    if found:
        return found
    if local.exists():
        return str(local)
    raise RuntimeError(
        "Azurite is not installed: `npm install --prefix .azurite azurite@3.37.0` from the "
        "repository root (.ci/run does it), or set AZURITE_BLOB"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
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


class Container:
    """A container on Azurite, read and written with a plain azure-storage-blob client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def put(self, key: str, body: bytes | str) -> Any:
        data = body.encode() if isinstance(body, str) else body
        return self.client.upload_blob(key, data, overwrite=True)

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        return {
            b.name[len(prefix) :]: self.client.download_blob(b.name).readall()
            for b in self.client.list_blobs(name_starts_with=prefix)
        }

    def keys(self, prefix: str = "") -> list[str]:
        return [b.name[len(prefix) :] for b in self.client.list_blobs(name_starts_with=prefix)]


@pytest.fixture
def az_env(azurite: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``AZURE_STORAGE_CONNECTION_STRING`` for Azurite, for this test."""
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string(azurite))
    return azurite


@pytest.fixture
def container(az_env: str) -> Iterator[Container]:
    """An empty container ``lake`` (removed after the test)."""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string(az_env))
    client = service.create_container(CONTAINER)
    try:
        yield Container(client)
    finally:
        client.delete_container()


@pytest.fixture
def az_via(azurite: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """``az_via(**options)``: a started proxy in front of Azurite (injecting faults if
    asked), which ``AZURE_STORAGE_CONNECTION_STRING`` then points at."""
    started: list[Any] = []

    def start(**options: Any) -> Any:
        proxy = azure_proxy(azurite, **options)
        started.append(proxy)
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string(proxy.url))
        return proxy

    yield start
    for proxy in started:
        proxy.__exit__(None, None, None)


def staging_routine(state_dir: str, **params: Any) -> dict[str, Any]:
    """A routine with one StagingExecutor block running transfer and post_staging."""
    tasks = params.pop("tasks", ["transfer", "post_staging"])
    return {
        "routine_name": params.pop("routine_name", "azure_test"),
        "state_dir": state_dir,
        "executors": {"StagingExecutor": {"params": params, "tasks": tasks}},
    }


@pytest.fixture
def routine(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """``routine(**params)``: a staging routine whose state lives in the test's tmp folder."""

    def build(**params: Any) -> dict[str, Any]:
        return staging_routine(str(tmp_path / "state"), **params)

    return build


@pytest.fixture(autouse=True)
def _only_this_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load only this plugin (and the built-in local storage) from entry points."""
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "azure")
