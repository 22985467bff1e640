"""moto's Athena, seen and steered from the test process.

moto never runs SQL: every query SUCCEEDs at once unless its state manager says otherwise,
and its GetQueryExecution reports no failure reason and 0 bytes scanned. ``AthenaEmulator``
sets emulator state only: transitions (QUEUED, RUNNING...), results seeded over
``/moto-api/``, a background thread that fails or cancels a query once it has started, and
the reason / bytes fields real Athena sends, added to moto's response.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ACCOUNT = "123456789012"
REGION = "us-east-1"


def athena_params(**extra: Any) -> dict[str, Any]:
    """Params of an AthenaExecutor on the emulator, polling fast."""
    return {
        "database": "lake",
        "output_location": "s3://results/athena/",
        "poll_interval_s": 0.01,
        "max_wait_s": 30,
        **extra,
    }


class AthenaEmulator:
    """The queries moto's Athena received, and ways to make them behave like real ones."""

    def __init__(self, endpoint: str, state_dir: Path) -> None:
        from moto.athena.models import athena_backends

        self.endpoint = endpoint
        self.state_dir = state_dir
        self.backend = athena_backends[ACCOUNT][REGION]
        self.tokens: list[str | None] = []  # ClientRequestToken of each query started
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def routine(self, *tasks: Any, **params: Any) -> dict[str, Any]:
        """A one-block routine of AthenaExecutor tasks, polling fast, with its run state
        in the test's temporary folder."""
        block = {"params": athena_params(**params), "tasks": list(tasks)}
        return {
            "routine_name": "athena_test",
            "state_dir": str(self.state_dir),
            "executors": {"AthenaExecutor": block},
        }

    @property
    def executions(self) -> list[Any]:
        return list(self.backend.executions.values())

    @property
    def queries(self) -> list[str]:
        return [e.query for e in self.executions]

    def transitions(self, times: int) -> None:
        """Each query stays QUEUED, then RUNNING, for ``times`` polls before it moves on."""
        from moto.moto_api import state_manager

        state_manager.set_transition("athena::execution", {"progression": "manual", "times": times})

    def seed_results(
        self, columns: list[tuple[str, str]], rows: list[list[Any]], header: bool = True
    ) -> None:
        """The next query's result (header row first, as Athena returns it for a SELECT;
        SHOW and DESCRIBE results have none)."""
        cells = [[{"VarCharValue": name} for name, _ in columns]] if header else []
        cells += [[{} if v is None else {"VarCharValue": str(v)} for v in row] for row in rows]
        body = {
            "results": [
                {
                    "rows": [{"Data": data} for data in cells],
                    "column_info": [
                        {"Name": name, "Label": name, "Type": kind} for name, kind in columns
                    ],
                }
            ]
        }
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/static/athena/query-results",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        assert urllib.request.urlopen(request, timeout=10).status == 201

    def end_started_queries(self, status: str, reason: str | None = None, count: int = 1) -> None:
        """Once a query has started (QUEUED or RUNNING), put it in ``status`` with
        ``reason``, as Athena does when a query fails or someone stops it; ``count``
        queries at most."""

        def loop() -> None:
            ended = 0
            while ended < count and not self._stop.wait(0.002):
                for execution in self.executions:
                    if ended < count and execution._status in ("QUEUED", "RUNNING"):
                        execution.state_change_reason = reason
                        execution.status = status
                        ended += 1

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        self._threads.append(thread)

    def wait_for_query(self, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.executions:
                return self.executions[-1]
            time.sleep(0.005)
        raise AssertionError("no query reached the emulator")

    def close(self) -> None:
        from moto.moto_api import state_manager

        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        state_manager.unset_transition("athena::execution")


def _report_reason_and_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's GetQueryExecution send what real Athena sends and moto leaves out: the
    StateChangeReason of a failed query and DataScannedInBytes, from emulator state."""
    from moto.athena.responses import AthenaResponse

    original = AthenaResponse.get_query_execution

    def get_query_execution(self: AthenaResponse) -> str:
        body = json.loads(original(self))
        execution = self.athena_backend.executions[self._get_param("QueryExecutionId")]
        status = body["QueryExecution"]["Status"]
        reason = getattr(execution, "state_change_reason", None)
        if reason:
            status["StateChangeReason"] = reason
        scanned = getattr(execution, "data_scanned_bytes", None)
        if scanned is not None:
            body["QueryExecution"]["Statistics"]["DataScannedInBytes"] = scanned
        return json.dumps(body)

    monkeypatch.setattr(AthenaResponse, "get_query_execution", get_query_execution)


def _record_tokens(monkeypatch: pytest.MonkeyPatch, tokens: list[str | None]) -> None:
    """Note the ClientRequestToken of every StartQueryExecution (moto ignores it)."""
    from moto.athena.responses import AthenaResponse

    original = AthenaResponse.start_query_execution

    def start_query_execution(self: AthenaResponse) -> Any:
        tokens.append(self._get_param("ClientRequestToken"))
        return original(self)

    monkeypatch.setattr(AthenaResponse, "start_query_execution", start_query_execution)


@pytest.fixture
def athena(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[AthenaEmulator]:
    """moto's Athena with a results bucket and a ``lake`` bucket; transitions reset after
    the test."""
    import boto3

    for bucket in ("results", "lake"):  # query results; the lake CTAS tables go to
        boto3.client("s3").create_bucket(Bucket=bucket)
    _report_reason_and_bytes(monkeypatch)
    emulator = AthenaEmulator(moto_endpoint, tmp_path / "state")
    _record_tokens(monkeypatch, emulator.tokens)
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture(autouse=True)
def _moto_emulates_athena(request: pytest.FixtureRequest) -> None:
    """Fail in one line, not with moto's HTML 404 page, when a test needs moto's Athena and
    the installed moto cannot speak the installed botocore's Athena protocol
    (plugins/athena/README.md, Testing)."""
    from lakeroutine.testing.moto_support import moto_cannot_emulate

    gap = moto_cannot_emulate("athena")
    if gap and "moto_endpoint" in request.fixturenames:
        pytest.fail(gap, pytrace=False)
