"""lakeroutine-openlineage's tests: every run writes its events to a file of its own
(the client's file transport, configured by an ``openlineage.yml`` as users do), and no
Airflow task context or OpenLineage setting of the process leaks into a test."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # lr_openlineage_helpers


@pytest.fixture(autouse=True)
def clean_lineage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OpenLineage variable or Airflow task context (Airflow's in-process test runs
    leave AIRFLOW_CTX_* in the environment) from outside the test."""
    for name in list(os.environ):
        if name.startswith(("OPENLINEAGE", "AIRFLOW_CTX_")):
            monkeypatch.delenv(name)


@pytest.fixture
def lineage_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The file this test's events go to, through an openlineage.yml (file transport)."""
    from lr_openlineage_helpers import file_transport

    yield file_transport(tmp_path, monkeypatch)
