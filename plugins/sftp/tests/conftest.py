"""Fixtures of the SFTP plugin's tests: asyncssh's in-process SFTP server and a real
OpenSSH sshd on loopback, and helpers."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the server helpers beside this file

from sftp_servers import (
    SftpServer,
    remove,
    sshd_available,
    start_asyncssh,
    start_openssh,
)
from staging_support import routine  # noqa: F401 (a fixture)


def _start(kind: str) -> tuple[SftpServer, Path]:
    folder = Path(tempfile.mkdtemp(prefix=f"sftp-{kind}-"))
    if kind == "openssh":
        problem = sshd_available()
        if problem:
            if os.environ.get("LAKEROUTINE_REQUIRE_SSHD"):
                pytest.fail(problem)
            pytest.skip(problem)
        return start_openssh(folder), folder
    return start_asyncssh(folder), folder


@pytest.fixture(scope="session", params=["asyncssh", "openssh"])
def sftp_server_session(request: pytest.FixtureRequest) -> Iterator[SftpServer]:
    server, folder = _start(request.param)
    try:
        yield server
    finally:
        remove(server, folder)


@pytest.fixture
def sftp_server(sftp_server_session: SftpServer) -> Iterator[SftpServer]:
    """Each server in turn (asyncssh's, OpenSSH's), its folder emptied after each test."""
    yield sftp_server_session
    for child in sftp_server_session.root.iterdir():
        if child.is_dir() and not child.is_symlink():
            import shutil

            shutil.rmtree(child)
        else:
            child.unlink()


@pytest.fixture
def asyncssh_server() -> Iterator[SftpServer]:
    """asyncssh's server alone (for what needs the server in this process)."""
    server, folder = _start("asyncssh")
    try:
        yield server
    finally:
        remove(server, folder)


@pytest.fixture(autouse=True)
def _only_this_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load only this plugin (and the built-in local storage) from entry points."""
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "sftp")
