"""Long waits on Athena (moto's server, in this process, steered like the Athena plugin's
tests do): deferred to the triggerer and resumed, and a task killed mid-wait and retried by
Airflow re-attaching to its query through the run state, starting nothing twice."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lr_airflow_routines import write

TABLE = {
    "name": "sales",
    "columns": {"name": "string", "amount": "double"},
    "format": "parquet",
    "location": "s3://lake/staging/sales",
}


@pytest.fixture
def athena(moto_endpoint: str) -> Iterator[Any]:
    """moto's Athena backend, with a results bucket; query transitions reset afterwards."""
    import boto3
    from moto.athena.models import athena_backends
    from moto.moto_api import state_manager

    boto3.client("s3").create_bucket(Bucket="results")
    yield athena_backends["123456789012"]["us-east-1"]
    state_manager.unset_transition("athena::execution")


def queries_stay_running(polls: int) -> None:
    """Each Athena query stays QUEUED, then RUNNING, for ``polls`` looks before it ends."""
    from moto.moto_api import state_manager

    state_manager.set_transition("athena::execution", {"progression": "manual", "times": polls})


def athena_routine(folder: Path, *tasks: Any) -> Path:
    params = {
        "database": "lake",
        "output_location": "s3://results/athena/",
        "poll_interval_s": 0.05,
        "max_wait_s": 60,
    }
    routine = {
        "routine_name": "lake",
        "state_dir": str(folder / "state"),
        "executors": {"athena": {"executor": "AthenaExecutor", "params": params, "tasks": tasks}},
    }
    return write(folder, routine)


def dag_file(dag_files: Any, path: Path, dag_id: str, **kwargs: Any) -> None:
    args = "".join(f", {key}={value}" for key, value in kwargs.items())
    dag_files.write(
        dag_id,
        f"""
        import datetime as dt
        from lakeroutine_airflow import routine_dag

        dag = routine_dag({str(path)!r}, dag_id={dag_id!r}, schedule=None{args})
        """,
    )


def test_deferred_waits_resume_when_the_queries_end(dag_files, tmp_path, athena, caplog) -> None:
    caplog.set_level(logging.INFO)
    queries_stay_running(4)
    replace = {"task": "create_table", "args": {"table": TABLE, "if_exists": "replace"}}
    path = athena_routine(tmp_path, replace, {"task": "run_query", "args": {"sql": "SELECT 1"}})
    dag_file(dag_files, path, "deferred", deferrable=True)

    dag_run = dag_files.test("deferred")
    assert dag_run.state == "success"
    executions = list(athena.executions.values())
    assert [e.query.split()[0] for e in executions] == ["DROP", "CREATE", "SELECT"]  # once each
    assert all(e.status == "SUCCEEDED" for e in executions)
    lines = [r.getMessage() for r in caplog.records]
    deferred = [
        line.split(":")[0] for line in lines if line.startswith("task ") and " deferred: " in line
    ]
    assert deferred == [  # drop, then create (the task resumed in between), then select
        "task athena.create_table deferred",
        "task athena.create_table deferred",
        "task athena.run_query deferred",
    ]
    outputs = dag_files.xcoms(dag_run)
    created = outputs["athena__create_table"]["output"]
    assert [q["query_execution_id"] for q in created["queries"]] == [e.id for e in executions[:2]]
    assert outputs["athena__run_query"]["output"]["query_execution_id"] == executions[2].id
    assert outputs["athena__run_query"]["output"]["reattached"] is True  # resumed, not restarted


def test_a_task_killed_mid_wait_is_retried_and_reattaches(dag_files, tmp_path, athena) -> None:
    queries_stay_running(10**6)  # until this test ends it

    class EndTheQueryWhenReattached(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("re-attaching to Athena query"):
                for execution in athena.executions.values():
                    execution.status = "SUCCEEDED"

    handler = EndTheQueryWhenReattached()
    logging.getLogger("lakeroutine").addHandler(handler)
    query = {"task": "run_query", "args": {"sql": "SELECT 1"}, "retries": 1}
    path = athena_routine(tmp_path, query)
    # 6 s: long enough for a retry on a loaded machine to re-attach before its own timeout
    timeout = "dict(execution_timeout=dt.timedelta(seconds=6))"
    report = "'s3://results/reports/{{ ds }}.json'"
    dag_file(dag_files, path, "killed", default_args=timeout, report=report)
    try:
        dag_run = dag_files.test("killed")
    finally:
        logging.getLogger("lakeroutine").removeHandler(handler)

    assert dag_run.state == "success"
    assert dag_files.task_instances(dag_run)["athena__run_query"] == ("success", 2)
    (execution,) = athena.executions.values()  # the retry started no second query
    output = dag_files.xcoms(dag_run)["athena__run_query"]["output"]
    assert output["query_execution_id"] == execution.id and output["reattached"] is True

    import boto3

    key = f"reports/{dag_run.logical_date:%Y-%m-%d}.json"  # the report, through lakeroutine-s3
    body = boto3.client("s3").get_object(Bucket="results", Key=key)["Body"].read()
    (entry,) = json.loads(body)["tasks"]
    assert entry["step"] == "athena.run_query" and entry["status"] == "succeeded"
    assert dt.datetime  # keeps the DAG file's import honest
