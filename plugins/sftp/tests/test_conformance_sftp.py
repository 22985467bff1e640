"""The storage conformance kit on SFTP: asyncssh's server (password login) and OpenSSH's
sshd (key login), SFTP to SFTP, and local folders to SFTP and back; and the state kit's
kill cases on SFTP landing and staging."""

from __future__ import annotations

import pytest
from lakeroutine.testing.conformance.state_store import PlaceRoute, StateKillConformance
from lakeroutine.testing.conformance.storage import LocalPlace, StorageConformance
from sftp_place import SftpPlace


@pytest.fixture
def sftp_place(sftp_server, monkeypatch):
    monkeypatch.setenv("KIT_SFTP_PASSWORD", "")  # restored after the test
    return SftpPlace(sftp_server, password=sftp_server.kind == "asyncssh")


class TestSftpStorage(StorageConformance):
    @pytest.fixture
    def landing_place(self, sftp_place):
        return sftp_place

    @pytest.fixture
    def staging_place(self, sftp_place):
        return sftp_place


class TestLocalToSftp(StorageConformance):
    @pytest.fixture
    def landing_place(self, shared_tmp_path):  # a folder an unprivileged login reaches
        return LocalPlace(shared_tmp_path / "lake")

    @pytest.fixture
    def staging_place(self, sftp_place):
        return sftp_place


class TestSftpToLocal(StorageConformance):
    @pytest.fixture
    def landing_place(self, sftp_place):
        return sftp_place

    @pytest.fixture
    def staging_place(self, tmp_path):
        return LocalPlace(tmp_path / "lake")


class TestSftpKills(StateKillConformance):
    routes = ()

    @pytest.fixture
    def route(self, sftp_place):
        return PlaceRoute(sftp_place)
