"""The storage conformance kit on Azure Blob Storage (Azurite): Azure to Azure and from
local folders."""

from __future__ import annotations

import pytest
from azure_place import AzurePlace
from lakeroutine.testing.conformance.storage import LocalPlace, StorageConformance


class TestAzureStorage(StorageConformance):
    @pytest.fixture
    def landing_place(self, container):
        return AzurePlace(container)

    @pytest.fixture
    def staging_place(self, landing_place):
        return landing_place


class TestAzureToLocal(StorageConformance):
    @pytest.fixture
    def landing_place(self, container):
        return AzurePlace(container)

    @pytest.fixture
    def staging_place(self, tmp_path):
        return LocalPlace(tmp_path / "lake")
