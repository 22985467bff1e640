"""The storage conformance kit on S3 (moto's server), S3 to S3 and S3 to local folders (where
every S3 object is downloaded: an unreadable one is refused on its GET)."""

from __future__ import annotations

import pytest
from lakeroutine.testing.conformance.storage import LocalPlace, StorageConformance
from s3_place import S3Place


class TestS3Storage(StorageConformance):
    @pytest.fixture
    def landing_place(self, bucket, proxy):
        return S3Place(bucket, via=proxy)

    @pytest.fixture
    def staging_place(self, landing_place):
        return landing_place


class TestS3ToLocal(StorageConformance):
    @pytest.fixture
    def landing_place(self, bucket, proxy):
        return S3Place(bucket, via=proxy)

    @pytest.fixture
    def staging_place(self, tmp_path):
        return LocalPlace(tmp_path / "lake")
