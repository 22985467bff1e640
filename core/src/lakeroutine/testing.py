"""pytest fixtures for lakeroutine and its plugins' tests.

Enable with ``pytest_plugins = ["lakeroutine.testing"]`` in a ``conftest.py``.

- ``lake``: a temporary folder with ``landing/``, ``staging/`` and a helper to write files.
- ``moto_endpoint``: moto's server on loopback (real HTTP), with fake credentials and
  ``AWS_ENDPOINT_URL`` set for the test, reset after it; yields the endpoint URL.
- ``run``: runs a routine dict or file with a fresh plugin registry and returns the result.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing-access-key",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_SESSION_TOKEN": "testing-session-token",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class Lake:
    """A temporary lake: ``root``, ``landing`` and ``staging`` folders."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.landing = root / "landing"
        self.staging = root / "staging"
        self.landing.mkdir()

    def write(self, relpath: str, content: str | bytes) -> Path:
        path = self.landing / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
        return path

    def files(self, folder: Path) -> dict[str, bytes]:
        """Every file below ``folder`` by relative POSIX path (temporary files included)."""
        if not folder.exists():
            return {}
        return {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }

    def routine_file(self, routine: Mapping[str, Any], name: str = "routine.json") -> Path:
        path = self.root / name
        path.write_text(json.dumps(routine, indent=2))
        return path


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path)


@pytest.fixture(scope="session")
def _moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_endpoint(_moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's server on loopback, with fake credentials in the environment; emulator state
    is reset after each test."""
    import urllib.request

    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", _moto_server)
    for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    try:
        yield _moto_server
    finally:
        request = urllib.request.Request(f"{_moto_server}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).read()


@pytest.fixture
def run() -> Callable[..., Any]:
    """``run(routine, **kwargs)``: run a routine (dict or path) with the installed plugins
    (and ``plugins=[...]`` registered in code) and return the RunResult."""
    from lakeroutine.orchestrator import run_routine
    from lakeroutine.plugins import load_plugins

    def runner(source: Any, *, plugins: list[Any] = (), **kwargs: Any) -> Any:  # type: ignore[assignment]
        registry = load_plugins(plugins=plugins)
        return run_routine(source, registry=registry, **kwargs)

    return runner
