"""The storage conformance kit on mixed routes: SFTP landing to S3 staging and local
landing to S3 staging (asyncssh's SFTP server and moto's S3 server on loopback). Local to
SFTP and back, and Azure to local, run beside their plugins' tests."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

import pytest
from lakeroutine.testing.conformance.storage import LocalPlace, StorageConformance

ROOT = Path(__file__).resolve().parents[1]
for plugin in ("s3", "sftp"):  # the emulator helpers and places beside each plugin's tests
    sys.path.insert(0, str(ROOT / "plugins" / plugin / "tests"))

from s3_place import S3Place  # noqa: E402
from sftp_place import SftpPlace  # noqa: E402
from sftp_servers import remove, start_asyncssh  # noqa: E402


def _s3_tests_helpers():
    spec = importlib.util.spec_from_file_location(
        "s3_tests_conftest", ROOT / "plugins" / "s3" / "tests" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _s3_and_sftp(monkeypatch):
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "s3,sftp")
    monkeypatch.setenv("KIT_SFTP_PASSWORD", "")  # restored after the test


@pytest.fixture
def s3_place(moto_endpoint):
    import boto3

    client = boto3.client("s3", endpoint_url=moto_endpoint)
    client.create_bucket(Bucket="lake")
    return S3Place(_s3_tests_helpers().Bucket(client, "lake"))


@pytest.fixture
def sftp_place():
    folder = Path(tempfile.mkdtemp(prefix="sftp-mixed-"))
    server = start_asyncssh(folder)
    try:
        yield SftpPlace(server, password=True)
    finally:
        remove(server, folder)


class TestSftpToS3(StorageConformance):
    @pytest.fixture
    def landing_place(self, sftp_place):
        return sftp_place

    @pytest.fixture
    def staging_place(self, s3_place):
        return s3_place


class TestLocalToS3(StorageConformance):
    @pytest.fixture
    def landing_place(self, shared_tmp_path):  # a folder an unprivileged login reaches
        return LocalPlace(shared_tmp_path / "lake")

    @pytest.fixture
    def staging_place(self, s3_place):
        return s3_place
