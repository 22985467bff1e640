"""Driving moto's Redshift Data API from the test process.

moto leaves every statement STARTED. ``DataApiDriver`` is a background thread that, like
the real service, moves statements on: by default to FINISHED, or to whatever a test's
``rule(statement)`` says (FAILED with an error, left running...). It only sets emulator state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

Rule = Callable[[Any], "tuple[str, Any] | None"]


def fail(statement: Any, status: str, error: str) -> None:
    """Put a moto statement in a failure state with the service's ``Error`` text (moto's
    Statement has no error field, so the object becomes one that reports it)."""
    from moto.redshiftdata.models import Statement

    class FailedStatement(Statement):
        def __iter__(self) -> Iterator[tuple[str, Any]]:
            yield from super().__iter__()
            yield "Error", error

    statement.__class__ = FailedStatement
    statement.status = status


class DataApiDriver:
    """Finishes or fails STARTED statements in moto's backend, as ``rule`` says."""

    def __init__(self) -> None:
        self.rule: Rule = lambda statement: ("FINISHED", 7)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @property
    def backend(self) -> Any:
        """moto's redshift-data backend (looked up each time: a reset replaces it)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.redshiftdata.models import redshiftdata_backends

        return redshiftdata_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]

    @property
    def statements(self) -> list[Any]:
        """Statements the service received, in order."""
        return list(self.backend.statements.values())

    @property
    def sql(self) -> list[str]:
        return [s.query_string for s in self.statements]

    def _loop(self) -> None:
        while not self._stop.wait(0.002):
            for statement in list(self.backend.statements.values()):
                if statement.status != "STARTED":
                    continue
                outcome = self.rule(statement)
                if outcome is None:
                    continue
                status, detail = outcome
                if status in ("FAILED", "ABORTED"):
                    fail(statement, status, detail)
                else:
                    statement.result_rows = detail
                    statement.status = status

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def data_api(moto_endpoint: str) -> Iterator[DataApiDriver]:
    driver = DataApiDriver()
    driver.start()
    try:
        yield driver
    finally:
        driver.stop()


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
