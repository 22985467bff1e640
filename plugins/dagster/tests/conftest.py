"""Fixtures of lakeroutine-dagster's tests: routine files of probe tasks, a Dagster instance."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from core_probe import probe_registry


@pytest.fixture(autouse=True)
def definitions_load_context() -> Any:
    """Dagster's load context as it was before the test: ``execute_job`` of a reconstructable
    job sets it to RECONSTRUCTION for the rest of the process (never reset), which made a
    later test's ``routine_definitions`` read the steps instead of validating them."""
    from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext

    before = DefinitionsLoadContext.get() if DefinitionsLoadContext.is_set() else None
    yield
    DefinitionsLoadContext.set(before)  # type: ignore[arg-type]


@pytest.fixture
def probe_routine(tmp_path: Path) -> Callable[..., Path]:
    """Writes a routine file of ProbeExecutor blocks (``(key, tasks)`` pairs) and returns
    its path; its run state is kept in the test's temporary folder."""

    def write(*blocks: tuple[str, list[Any]], name: str = "probe", **params: Any) -> Path:
        executors = {
            key: {"executor": "ProbeExecutor", "params": {"label": key, **params}, "tasks": tasks}
            for key, tasks in blocks
        }
        path = tmp_path / f"{name}.json"
        spec = {"routine_name": name, "state_dir": str(tmp_path / "state"), "executors": executors}
        path.write_text(json.dumps(spec, indent=2))
        return path

    return write


@pytest.fixture
def registry() -> Any:
    """A registry holding the probe executor (its call records cleared)."""
    return probe_registry()


@pytest.fixture
def instance() -> dg.DagsterInstance:
    """A throwaway in-memory Dagster instance whose event log the test can read."""
    return dg.DagsterInstance.ephemeral()
