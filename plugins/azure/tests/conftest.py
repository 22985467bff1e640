"""Fixtures of the Azure plugin's tests: Azurite's blob service on loopback, a container,
helpers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the proxy module beside this file

from azure_proxy import azure_proxy
from azurite import connection_string, running_azurite
from staging_support import routine  # noqa: F401 (a fixture)

CONTAINER = "lake"


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """Azurite's blob service on loopback, in memory; yields its endpoint URL."""
    with running_azurite() as url:
        yield url


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


@pytest.fixture(autouse=True)
def _only_this_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load only this plugin (and the built-in local storage) from entry points."""
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "azure")
