"""Running one Athena query to its end, the way DESIGN.md "Waiting on AWS" asks.

The idempotency token is saved before the query starts and the query id right after, in
the task's durable state: a retried or resumed task re-attaches to a query that is still
running or has succeeded, instead of starting it again. Polling has an explicit interval
and maximum wait; FAILED and CANCELLED are task failures with Athena's reason; a cancelled
task (Ctrl-C, SIGTERM, timeout) stops the queries it started.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakeroutine.errors import TaskError
from lakeroutine.waiting import poll

if TYPE_CHECKING:
    from lakeroutine.context import TaskContext

    from lakeroutine_athena.models import AthenaParams

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
_MB = 1024**2
_TB = 1024**4


def estimated_cost_usd(scanned_bytes: int, statement_type: str, price_per_tb: float) -> float:
    """What Athena bills for a query: DDL is free; otherwise bytes rounded up to the MB,
    at least 10 MB, at ``price_per_tb`` dollars per TB (2**40 bytes)."""
    if statement_type == "DDL":
        return 0.0
    billed = max(math.ceil(scanned_bytes / _MB), 10) * _MB
    return round(billed / _TB * price_per_tb, 8)


class QueryFailed(TaskError):
    """A query Athena ended FAILED or CANCELLED (its id and state kept for clean-up)."""

    def __init__(self, message: str, query_id: str, state: str) -> None:
        super().__init__(message)
        self.query_id = query_id
        self.state = state


@dataclass
class QueryOutcome:
    """A finished query: its id, final state and statistics (the task's report)."""

    query_execution_id: str
    state: str
    statement_type: str
    data_scanned_bytes: int
    engine_execution_ms: int
    estimated_cost_usd: float
    reattached: bool

    def report(self) -> dict[str, Any]:
        return {
            "query_execution_id": self.query_execution_id,
            "state": self.state,
            "data_scanned_bytes": self.data_scanned_bytes,
            "estimated_cost_usd": self.estimated_cost_usd,
            "engine_execution_ms": self.engine_execution_ms,
            "reattached": self.reattached,
        }


class QueryRunner:
    """Starts (or re-attaches to) queries and waits for them, for one task attempt."""

    def __init__(self, client: Any, params: AthenaParams, ctx: TaskContext) -> None:
        self.client = client
        self.params = params
        self.ctx = ctx
        self._running: dict[str, str] = {}  # query id -> its step
        ctx.on_cancel(self.stop_running)

    def stop_running(self) -> bool:
        """Stop every query this task is waiting for (on cancel) and forget it: Athena
        cancels a query some time after StopQueryExecution, and a retry or a resumed run
        must start a new query, not re-attach to the one being cancelled. A query that
        could not be stopped is remembered, to be re-attached to (and False returned)."""
        running, self._running = self._running, {}
        stopped_all = True
        for query_id, step in sorted(running.items()):
            self.ctx.logger.warning("stopping Athena query %s", query_id)
            try:
                self.client.stop_query_execution(QueryExecutionId=query_id)
            except Exception as exc:  # best effort: say so, and try the others
                self.ctx.logger.warning("could not stop Athena query %s: %s", query_id, exc)
                stopped_all = False
                continue
            self._forget(step)
        return stopped_all

    def run(
        self,
        sql: str,
        *,
        step: str = "query",
        parameters: list[str] | None = None,
        database: str | None = None,
    ) -> QueryOutcome:
        """Run ``sql`` to its end and return the outcome; ``step`` names the query within
        the task (its state keys), so a task running several queries resumes each."""
        query_id, reattached = self._attach(step)
        if query_id is None:
            query_id = self._start(sql, step, parameters, database)
        self._running[query_id] = step
        execution = self._wait(query_id)  # interrupted or too long: stopped
        self._running.pop(query_id, None)
        status = execution["Status"]
        state = status["State"]
        if state != "SUCCEEDED":
            self._forget(step)  # a retry starts a new query
            raise QueryFailed(
                f"Athena query {query_id} {state}: {_reason(status)}", query_id, state
            )
        stats = execution.get("Statistics") or {}
        scanned = int(stats.get("DataScannedInBytes") or 0)
        statement_type = execution.get("StatementType") or "DML"
        return QueryOutcome(
            query_execution_id=query_id,
            state=state,
            statement_type=statement_type,
            data_scanned_bytes=scanned,
            engine_execution_ms=int(stats.get("EngineExecutionTimeInMillis") or 0),
            estimated_cost_usd=estimated_cost_usd(
                scanned, statement_type, self.params.price_per_tb_usd
            ),
            reattached=reattached,
        )

    def _attach(self, step: str) -> tuple[str | None, bool]:
        """The saved query of ``step`` if it is still worth waiting for."""
        query_id = self.ctx.state.get(f"{step}.query_id")
        if not query_id:
            return None, False
        try:
            execution = self._get(query_id)
        except self.client.exceptions.InvalidRequestException:
            execution = None
        state = execution["Status"]["State"] if execution else "UNKNOWN"
        if state in ("FAILED", "CANCELLED", "UNKNOWN"):
            self.ctx.logger.info("saved query %s is %s: starting a new one", query_id, state)
            self._forget(step)
            return None, False
        self.ctx.logger.info("re-attaching to Athena query %s (%s)", query_id, state)
        return query_id, True

    def _start(
        self, sql: str, step: str, parameters: list[str] | None, database: str | None
    ) -> str:
        self.ctx.check_cancelled()
        token = self.ctx.state.get(f"{step}.token")
        if not token:
            token = uuid.uuid4().hex  # saved first: a crash before the id is saved reuses it
            self.ctx.state.set(f"{step}.token", token)
        request: dict[str, Any] = {
            "QueryString": sql,
            "ClientRequestToken": token,
            "WorkGroup": self.params.workgroup,
            "QueryExecutionContext": {
                "Database": database or self.params.database,
                "Catalog": self.params.catalog,
            },
        }
        if self.params.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.params.output_location}
        if parameters:
            request["ExecutionParameters"] = parameters
        if self.params.engine_version and per_query_engine(self.client):
            request["EngineVersion"] = self.params.engine_version
        query_id = self.client.start_query_execution(**request)["QueryExecutionId"]
        self._running[query_id] = step
        self.ctx.state.set(f"{step}.query_id", query_id)
        self.ctx.logger.info("started Athena query %s", query_id)
        return query_id

    def _forget(self, step: str) -> None:
        self.ctx.state.delete(f"{step}.token")
        self.ctx.state.delete(f"{step}.query_id")

    def _get(self, query_id: str) -> dict[str, Any]:
        return self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]

    def _wait(self, query_id: str) -> dict[str, Any]:
        """The query's execution once it has ended; stopped after ``max_wait_s``."""
        last_state = None

        def look() -> dict[str, Any] | None:
            nonlocal last_state
            execution = self._get(query_id)
            state = execution["Status"]["State"]
            if state != last_state:
                self.ctx.logger.info("Athena query %s is %s", query_id, state)
                last_state = state
            return execution if state in TERMINAL else None

        return poll(
            self.ctx,
            look,
            what=f"Athena query {query_id}",
            interval_s=self.params.poll_interval_s,
            max_wait_s=self.params.max_wait_s,
            give_up=self.stop_running,
        )


def per_query_engine(client: Any) -> bool:
    """Whether this botocore lets StartQueryExecution choose the engine (EngineVersion:
    botocore 1.44.18 has it, 1.44.13 has not); else only the workgroup's engine applies."""
    shape = client.meta.service_model.operation_model("StartQueryExecution").input_shape
    return "EngineVersion" in shape.members


def _reason(status: dict[str, Any]) -> str:
    """Athena's own words for why a query did not succeed."""
    error = status.get("AthenaError") or {}
    parts = [status.get("StateChangeReason"), error.get("ErrorMessage")]
    if error.get("ErrorType"):
        parts.append(f"error type {error['ErrorType']}")
    text = "; ".join(dict.fromkeys(p for p in parts if p))
    return text or "Athena gave no reason"
