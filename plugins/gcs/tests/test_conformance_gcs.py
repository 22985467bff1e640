"""The storage conformance kit on Google Cloud Storage (fake-gcs-server), GCS to GCS, and the
state kit's kill cases on GCS landing and staging."""

from __future__ import annotations

import pytest
from gcs_place import GcsPlace
from lakeroutine.testing.conformance.state_store import PlaceRoute, StateKillConformance
from lakeroutine.testing.conformance.storage import StorageConformance


class TestGcsStorage(StorageConformance):
    @pytest.fixture
    def landing_place(self, gcs_bucket, gcs_via):
        return GcsPlace(gcs_bucket, via=gcs_via)

    @pytest.fixture
    def staging_place(self, landing_place):
        return landing_place


class TestGcsKills(StateKillConformance):
    routes = ()

    @pytest.fixture
    def route(self, gcs_bucket):
        return PlaceRoute(GcsPlace(gcs_bucket))
