"""moto's Athena steered from the test process for the Iceberg tests: queries stay QUEUED
until a rule in the test ends them (SUCCEEDED, or FAILED with Athena's own error text), and
GetQueryExecution reports the failure reason real Athena sends (moto leaves it out)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

ACCOUNT = "123456789012"
REGION = "us-east-1"

Rule = Callable[[str, int], str | None]
"""``rule(query, nth)``: a failure reason for the nth query like it, or None to succeed."""


class AthenaDriver:
    """Ends each query moto's Athena receives as ``rule`` says, in a background thread."""

    def __init__(self, endpoint: str) -> None:
        from moto.athena.models import athena_backends

        self.endpoint = endpoint
        self.backend = athena_backends[ACCOUNT][REGION]
        self.rule: Rule = lambda query, nth: None
        self._seen: set[str] = set()
        self.answers: dict[str, tuple[list[str], list[list[Any]]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @property
    def queries(self) -> list[str]:
        return [e.query for e in self.backend.executions.values()]

    def _loop(self) -> None:
        counts: dict[str, int] = {}
        while not self._stop.wait(0.002):
            for execution in list(self.backend.executions.values()):
                if execution.id in self._seen or execution._status not in ("QUEUED", "RUNNING"):
                    continue
                self._seen.add(execution.id)
                head = execution.query.split(None, 1)[0].upper()
                counts[head] = counts.get(head, 0) + 1
                reason = self.rule(execution.query, counts[head])
                if reason:
                    execution.state_change_reason = reason
                    execution.status = "FAILED"
                else:
                    results = self._results(execution.query)
                    if results is not None:
                        self.backend.query_results[execution.id] = results
                    execution.status = "SUCCEEDED"

    def answer(self, prefix: str, columns: list[str], rows: list[list[Any]]) -> None:
        """Give queries starting with ``prefix`` these rows (header first, as Athena
        returns a SELECT's), set on the execution before it ends."""
        self.answers[prefix] = (columns, rows)

    def _results(self, query: str) -> Any:
        from moto.athena.models import QueryResults

        for prefix, (columns, rows) in self.answers.items():
            if query.startswith(prefix):
                cells = [[{"VarCharValue": c} for c in columns]]
                cells += [[{"VarCharValue": str(v)} for v in row] for row in rows]
                info = [{"Name": c, "Label": c, "Type": "varchar"} for c in columns]
                return QueryResults(rows=[{"Data": d} for d in cells], column_info=info)
        return None

    def start(self) -> None:
        from moto.moto_api import state_manager

        state_manager.set_transition("athena::execution", {"progression": "manual", "times": 10**6})
        self._thread.start()

    def close(self) -> None:
        from moto.moto_api import state_manager

        self._stop.set()
        self._thread.join(timeout=5)
        state_manager.unset_transition("athena::execution")


def _report_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.athena.responses import AthenaResponse

    original = AthenaResponse.get_query_execution

    def get_query_execution(self: AthenaResponse) -> str:
        body = json.loads(original(self))
        execution = self.athena_backend.executions[self._get_param("QueryExecutionId")]
        reason = getattr(execution, "state_change_reason", None)
        if reason:
            body["QueryExecution"]["Status"]["StateChangeReason"] = reason
        return json.dumps(body)

    monkeypatch.setattr(AthenaResponse, "get_query_execution", get_query_execution)


@pytest.fixture
def athena_driver(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AthenaDriver]:
    import boto3

    boto3.client("s3").create_bucket(Bucket="results")
    _report_reason(monkeypatch)
    driver = AthenaDriver(moto_endpoint)
    driver.start()
    try:
        yield driver
    finally:
        driver.close()
