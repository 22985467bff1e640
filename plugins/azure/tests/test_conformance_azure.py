"""The storage conformance kit on Azure Blob Storage (Azurite): Azure to Azure and from
local folders; and the state kit's kill cases on Azure landing and staging."""

from __future__ import annotations

import pytest
from azure_place import AzurePlace
from lakeroutine.testing.conformance.state_store import PlaceRoute, StateKillConformance
from lakeroutine.testing.conformance.storage import LocalPlace, StorageConformance


class TestAzureStorage(StorageConformance):
    @pytest.fixture
    def landing_place(self, container, az_via):
        return AzurePlace(container, via=az_via)

    @pytest.fixture
    def staging_place(self, landing_place):
        return landing_place


class TestAzureToLocal(StorageConformance):
    @pytest.fixture
    def landing_place(self, container, az_via):
        return AzurePlace(container, via=az_via)

    @pytest.fixture
    def staging_place(self, tmp_path):
        return LocalPlace(tmp_path / "lake")


class TestAzureKills(StateKillConformance):
    routes = ()

    @pytest.fixture
    def route(self, container):
        return PlaceRoute(AzurePlace(container))
