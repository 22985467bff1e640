"""The storage conformance kit on local folders (the built-in storage)."""

from __future__ import annotations

import pytest
from lakeroutine.testing.conformance.storage import LocalPlace, StorageConformance


@pytest.fixture(autouse=True)
def _builtins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "")


class TestLocalStorage(StorageConformance):
    @pytest.fixture
    def landing_place(self, shared_tmp_path):
        return LocalPlace(shared_tmp_path / "lake")

    @pytest.fixture
    def staging_place(self, landing_place):
        return landing_place
