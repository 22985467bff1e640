"""Fixtures of the Redshift tests: moto's Data API driven by
``lakeroutine_redshift.emulator.DataApiEmulator`` (statements finish with 7 rows unless a
test's ``rule`` says otherwise), and a routine factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from lakeroutine_redshift.emulator import DataApiEmulator


@pytest.fixture
def data_api(moto_endpoint: str) -> Iterator[DataApiEmulator]:
    with DataApiEmulator(rule=lambda statement: ("FINISHED", 7)) as emulator:
        yield emulator


@pytest.fixture
def rs_routine(tmp_path: Any) -> Callable[..., dict[str, Any]]:
    """``rs_routine(tasks, **params)``: a routine with one RedshiftExecutor block on
    cluster ``lake`` as user ``loader``, keeping its run state in the test's folder."""

    def make(tasks: list[Any], **params: Any) -> dict[str, Any]:
        base = {
            "cluster_identifier": "lake",
            "database": "dev",
            "db_user": "loader",
            "poll_interval_s": 0.01,
            "max_wait_s": 30,  # a test that goes wrong fails instead of hanging
            **params,
        }
        return {
            "routine_name": "redshift_test",
            "state_dir": str(tmp_path / "state"),
            "executors": {
                "RedshiftExecutor": {
                    "params": {k: v for k, v in base.items() if v is not None},
                    "tasks": tasks,
                }
            },
        }

    return make
