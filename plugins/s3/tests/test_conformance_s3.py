"""The storage conformance kit on S3 (moto's server), S3 to S3."""

from __future__ import annotations

import pytest
from lakeroutine.testing.conformance.storage import StorageConformance
from s3_place import S3Place


class TestS3Storage(StorageConformance):
    @pytest.fixture
    def landing_place(self, bucket, proxy):
        return S3Place(bucket, via=proxy)

    @pytest.fixture
    def staging_place(self, landing_place):
        return landing_place
