"""Root conftest: lakeroutine's own pytest fixtures for every test in the repository, and how
the suite spreads over pytest-xdist's workers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["lakeroutine.testing"]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers a core. Most tests wait on an emulator, a server or a
    subprocess rather than compute, so a 2-core machine runs four at once."""
    return 2 * (os.cpu_count() or 1)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first, so that no worker starts a long test when the others are done.
    First of the reorderings: a conftest that moves its tests last (Airflow's) still can,
    and xdist hands tests out in this order."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def parse_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own parse cache (lakeroutine.parse_steps), empty at its start, never the
    user's: subprocesses inherit it through the environment."""
    folder = tmp_path_factory.mktemp("parse-cache")
    monkeypatch.setenv("LAKEROUTINE_PARSE_CACHE", str(folder))
    return folder
