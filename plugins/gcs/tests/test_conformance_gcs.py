"""The storage conformance kit on Google Cloud Storage (fake-gcs-server), GCS to GCS."""

from __future__ import annotations

import pytest
from gcs_place import GcsPlace
from lakeroutine.testing.conformance.storage import StorageConformance


class TestGcsStorage(StorageConformance):
    @pytest.fixture
    def landing_place(self, gcs_bucket):
        return GcsPlace(gcs_bucket)

    @pytest.fixture
    def staging_place(self, landing_place):
        return landing_place
