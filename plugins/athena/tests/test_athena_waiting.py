"""Waiting on Athena (DESIGN.md "Waiting on AWS") against moto's server: states, failures
with Athena's reason, the maximum wait, cancellation, retries and re-attaching."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lakeroutine.testing import another_machine, left_local_state
from lakeroutine_athena.waiting import estimated_cost_usd

QUERY = {"task": "run_query", "args": {"sql": "SELECT count(*) FROM sales"}}


def test_states_progress_from_queued_through_running(athena: Any, run, caplog) -> None:
    athena.transitions(times=2)
    caplog.set_level(logging.INFO, logger="lakeroutine.task")
    result = run(athena.routine(QUERY))
    assert result.status == "succeeded", result.tasks[0].error
    query_id = athena.executions[0].id
    seen = [r.getMessage() for r in caplog.records if query_id in r.getMessage()]
    states = [m.rsplit(" ", 1)[1] for m in seen if " is " in m]
    assert states == ["QUEUED", "RUNNING", "SUCCEEDED"]
    output = result.tasks[0].output
    assert output["query_execution_id"] == query_id and output["state"] == "SUCCEEDED"
    assert output["reattached"] is False


def test_failed_query_is_a_task_failure_with_athenas_reason(athena: Any, run) -> None:
    athena.transitions(times=10**6)  # stays QUEUED until the emulator ends it
    athena.end_started_queries("FAILED", "SYNTAX_ERROR: line 1:22: Table 'sales' does not exist")
    result = run(athena.routine(QUERY))
    task = result.tasks[0]
    assert result.status == "failed" and task.status == "failed"
    query_id = athena.executions[0].id
    assert task.error == (
        f"Athena query {query_id} FAILED: SYNTAX_ERROR: line 1:22: Table 'sales' does not exist"
    )


def test_query_cancelled_elsewhere_fails_the_task(athena: Any, run) -> None:
    athena.transitions(times=10**6)
    athena.end_started_queries("CANCELLED", "Query cancelled by user")
    result = run(athena.routine(QUERY))
    assert result.status == "failed"
    assert "CANCELLED: Query cancelled by user" in result.tasks[0].error


def test_a_retry_starts_a_new_query_after_a_failure(athena: Any, run) -> None:
    athena.transitions(times=10**6)
    athena.end_started_queries("FAILED", "Throttled by the engine", count=1)

    def release_the_retry() -> None:
        first = athena.wait_for_query()
        while first._status != "FAILED":
            time.sleep(0.002)
        athena.transitions(times=1)

    threading.Thread(target=release_the_retry, daemon=True).start()
    retried = {**QUERY, "retries": 1}
    result = run(athena.routine(retried))
    assert result.status == "succeeded", result.tasks[0].error
    first, second = athena.executions
    assert first.status == "FAILED" and second.status == "SUCCEEDED"
    assert result.tasks[0].attempts == 2
    assert result.tasks[0].output["query_execution_id"] == second.id
    first_token, second_token = athena.tokens  # idempotency: a new query, a new token
    assert len(first_token) >= 32 and len(second_token) >= 32 and first_token != second_token


def test_maximum_wait_stops_the_query(athena: Any, run) -> None:
    athena.transitions(times=10**6)
    started = time.monotonic()
    result = run(athena.routine(QUERY, max_wait_s=0.2))
    assert time.monotonic() - started < 5
    (execution,) = athena.executions
    assert result.status == "failed"
    assert result.tasks[0].error == (
        f"Athena query {execution.id} did not finish within max_wait_s=0.2; stopped"
    )
    assert execution.status == "CANCELLED"  # stopped through StopQueryExecution


def test_task_timeout_stops_the_query(athena: Any, run) -> None:
    athena.transitions(times=10**6)
    result = run(athena.routine({**QUERY, "timeout_s": 1.0}))
    assert result.status == "failed"
    assert "did not finish within 1 s" in result.tasks[0].error
    (execution,) = athena.executions
    deadline = time.monotonic() + 5
    while execution._status != "CANCELLED" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert execution._status == "CANCELLED"


def test_interrupting_the_run_stops_the_query(athena: Any) -> None:
    from lakeroutine.orchestrator import Orchestrator
    from lakeroutine.plugins import load_plugins
    from lakeroutine.routine import validate_routine

    athena.transitions(times=10**6)
    registry = load_plugins()
    orchestrator = Orchestrator(
        validate_routine(athena.routine(QUERY), registry=registry), registry
    )

    def interrupt() -> None:
        athena.wait_for_query()
        orchestrator.context.cancel_event.set()  # what Ctrl-C / SIGTERM set

    threading.Thread(target=interrupt, daemon=True).start()
    result = orchestrator.run()
    assert result.status == "failed" and "cancelled" in result.tasks[0].error
    assert athena.executions[0].status == "CANCELLED"


@pytest.mark.slow
def test_sigterm_stops_the_query(athena: Any, tmp_path: Path) -> None:
    """The CLI in a subprocess: SIGTERM mid-wait stops the query on the service."""
    athena.transitions(times=10**6)
    path = tmp_path / "routine.json"
    with _cli_polling(athena, path) as (process, execution):
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) != 0
    assert execution.status == "CANCELLED", (tmp_path / "stderr.txt").read_text()


SHARED_STATE = "s3://results/state/?lease_s=2"


@pytest.mark.slow
@pytest.mark.parametrize("shared", [False, True], ids=["local-state", "s3-state"])
def test_a_resumed_run_reattaches_to_the_running_query(
    athena: Any, run, tmp_path, monkeypatch, shared
) -> None:
    """A run killed while waiting (SIGKILL: nothing can clean up) leaves its query running;
    the next run finds the saved id and waits for that query instead of starting another.
    With the state on S3 the rerun starts from another working folder and HOME (another
    machine), waiting for the killed run's lease to expire."""
    athena.transitions(times=10**6)
    path = tmp_path / "routine.json"
    with _cli_polling(athena, path, SHARED_STATE if shared else None) as (process, execution):
        process.kill()
        process.wait(timeout=30)
    assert execution._status == "QUEUED"
    athena.transitions(times=1)
    if shared:
        another_machine(monkeypatch, tmp_path)
    result = run(path, wait_for_lock=30)
    assert result.status == "succeeded", result.tasks[0].error
    output = result.tasks[0].output
    assert len(athena.executions) == 1
    assert output["query_execution_id"] == execution.id and output["reattached"] is True
    rerun = run(path)  # the task succeeded: its state is cleared, a new run queries again
    assert rerun.tasks[0].output["reattached"] is False and len(athena.executions) == 2
    if shared:
        assert left_local_state(tmp_path) == []


def wait_until_saved(athena: Any, path: Path, query_id: str, timeout: float = 30) -> None:
    """Wait until the run in the subprocess has saved ``query_id`` in its state (whichever
    store the routine names)."""
    from lakeroutine.plugins import load_plugins
    from lakeroutine.routine import validate_routine
    from lakeroutine.state import TaskState

    registry = load_plugins()
    routine = validate_routine(path, registry=registry)
    scope = f"AthenaExecutor.run_query:{routine.steps[0].tasks[0].state_key}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        store = registry.state_stores().open(routine.state_url, routine.name)
        try:
            if TaskState(store, scope).get("query.query_id") == query_id:
                return
        finally:
            store.close()
        time.sleep(0.01)
    raise AssertionError(f"the run never saved query {query_id}")


@contextlib.contextmanager
def _cli_polling(
    athena: Any, path: Path, state: str | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], Any]]:
    """The CLI running a one-query routine at ``path`` (its state at ``state`` if given) in
    a subprocess, once it has saved its query's id and is polling; the process is killed on
    the way out."""
    spec = athena.routine(QUERY)
    if state is not None:
        del spec["state_dir"]
        spec["state"] = state
    path.write_text(json.dumps(spec))
    process = _cli(path)
    try:
        execution = athena.wait_for_query(timeout=30)
        wait_until_saved(athena, path, execution.id)
        yield process, execution
    finally:
        process.kill()


def _cli(path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "lakeroutine.cli", "run", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(path.parent / "stderr.txt").open("wb"),
    )


def test_report_has_bytes_scanned_and_estimated_cost(athena: Any, run) -> None:
    athena.transitions(times=10**6)

    def scan() -> None:
        execution = athena.wait_for_query()
        execution.data_scanned_bytes = 3 * 1024**4  # 3 TB, as Athena would report
        execution.status = "SUCCEEDED"

    threading.Thread(target=scan, daemon=True).start()
    result = run(athena.routine(QUERY, price_per_tb_usd=5.0))
    output = result.tasks[0].output
    assert output["data_scanned_bytes"] == 3 * 1024**4
    assert output["estimated_cost_usd"] == 15.0


def test_cost_estimate_rules() -> None:
    assert estimated_cost_usd(10**12, "DDL", 5.0) == 0.0
    assert estimated_cost_usd(1, "DML", 5.0) == round(10 * 1024**2 / 1024**4 * 5, 8)  # 10 MB
    assert estimated_cost_usd(1024**4, "DML", 5.0) == 5.0
    assert estimated_cost_usd(1024**4, "DML", 6.75) == 6.75


@pytest.fixture(autouse=True)
def _no_sigterm_leak() -> Any:
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


def test_a_saved_token_is_sent_again(athena: Any, run) -> None:
    """A run that died after saving its token but before saving the query id sends the
    same ClientRequestToken, so Athena answers with the query it already started."""
    from lakeroutine.plugins import load_plugins
    from lakeroutine.routine import validate_routine
    from lakeroutine.state import SqliteStateStore as StateStore

    spec = athena.routine(QUERY)
    step = validate_routine(spec, registry=load_plugins()).steps[0]
    store = StateStore(athena.state_dir / "athena_test.sqlite")
    store.scope(f"AthenaExecutor.run_query:{step.tasks[0].state_key}").set("query.token", "t" * 40)
    store.close()
    result = run(spec)
    assert result.status == "succeeded", result.tasks[0].error
    assert athena.tokens == ["t" * 40]


def test_a_retry_after_a_timeout_starts_a_new_query(athena: Any, run, monkeypatch) -> None:
    """Athena cancels a stopped query some time after StopQueryExecution answers. The
    emulator here never does: a retry that re-attached to the stopped query would wait for
    it (and succeed with it once it moves on); the retry must start its own query."""
    from moto.athena.responses import AthenaResponse

    stopped: list[str] = []

    def slow_stop(self: AthenaResponse) -> str:
        stopped.append(self._get_param("QueryExecutionId"))
        athena.transitions(times=1)  # from now on, queries move on
        return "{}"

    monkeypatch.setattr(AthenaResponse, "stop_query_execution", slow_stop)
    athena.transitions(times=10**6)
    result = run(athena.routine({**QUERY, "timeout_s": 0.5, "retries": 1}))
    assert result.status == "succeeded", result.tasks[0].error
    first, second = athena.executions
    assert stopped == [first.id]
    output = result.tasks[0].output
    assert output["query_execution_id"] == second.id and output["reattached"] is False
