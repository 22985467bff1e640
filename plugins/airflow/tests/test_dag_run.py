"""Running rendered DAGs with real Airflow (``dag.test()``): one lakeroutine run per DAG
run, XCom report entries, the whole report, task logs, retries in one layer, and invalid
routines failing without retry."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

from lr_airflow_routines import duckdb_routine, query, write

LOGICAL = dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.timezone.utc)


def dag_file(dag_files, path: Path, dag_id: str, **kwargs) -> None:
    args = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    dag_files.write(
        dag_id,
        f"""
        from lakeroutine_airflow import routine_dag

        dag = routine_dag({str(path)!r}, dag_id={dag_id!r}, schedule=None, {args})
        """,
    )


def lakeroutine_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("lakeroutine")]


def test_all_tasks_of_a_dag_run_share_one_lakeroutine_run(dag_files, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO)
    ask = "SELECT ? AS run_date, ? AS day, ? AS run_id"
    routine = duckdb_routine(
        tmp_path,
        "create_database",
        query(ask, "${run_date}", "${day}", "${run_id}"),
        query("SELECT '${run_ts}' AS run_ts"),
    )
    path = write(tmp_path, routine)
    dag_file(
        dag_files,
        path,
        "shared_run",
        vars={"day": "{{ macros.ds_add(ds, -1) }}"},
        report="reports/{{ ds }}.json",
    )
    dag_run = dag_files.test("shared_run", logical_date=LOGICAL)
    assert dag_run.state == "success"

    entries = dag_files.xcoms(dag_run)
    run_id = entries["duck__run_query"]["run_id"]
    assert run_id == dag_run.run_id.replace(":", "-")
    assert {entries[t]["run_id"] for t in ("duck__create_database", "duck__run_query__2")} == {
        run_id
    }
    asked = entries["duck__run_query"]
    assert asked["step"] == "duck.run_query" and asked["status"] == "succeeded"
    assert asked["attempts"] == 1 and asked["duration_s"] > 0
    assert asked["output"]["preview"] == [["2026-11-01", "2026-10-31", run_id]]
    assert entries["duck__run_query__2"]["output"]["preview"] == [["2026-11-01T06:30:00Z"]]

    report = json.loads((tmp_path / "reports" / "2026-11-01.json").read_text())
    assert (report["routine_name"], report["run_id"], report["status"]) == (
        "duck",
        run_id,
        "succeeded",
    )
    assert [t["step"] for t in report["tasks"]] == [
        "duck.create_database",
        "duck.run_query",
        "duck.run_query#2",
    ]

    lines = [r.getMessage() for r in caplog.records]  # Airflow's and lakeroutine's, in order
    start = lines.index("[DAG TEST] starting task_id=duck__run_query map_index=-1")
    end = lines.index("[DAG TEST] end task task_id=duck__run_query map_index=-1")
    assert "task duck.run_query started" in lines[start:end]
    assert "task duck.run_query succeeded in" in " ".join(lines[start:end])


def test_retries_live_in_airflow_only(dag_files, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO)
    failing = query("SELECT * FROM no_such_table", retries=2, retry_delay_s=0.1)
    path = write(tmp_path, duckdb_routine(tmp_path, failing, query("SELECT 1")))
    dag_file(dag_files, path, "retried", report="report.json")
    dag_run = dag_files.test("retried", logical_date=LOGICAL)
    assert dag_run.state == "failed"
    states = dag_files.task_instances(dag_run)
    assert states["duck__run_query"] == ("failed", 3)  # 1 + the routine task's 2 retries
    assert states["duck__run_query__2"][0] == "upstream_failed"
    lines = lakeroutine_lines(caplog)
    assert lines.count("task duck.run_query started") == 3  # one attempt per Airflow try
    assert not [line for line in lines if "attempt 2" in line or "retrying" in line]

    report = json.loads((tmp_path / "report.json").read_text())
    failed, not_run = report["tasks"]
    assert report["status"] == "failed"
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert "no_such_table" in failed["error"]
    assert not_run == {
        "step": "duck.run_query#2",
        "status": "not run",
        "task_id": "duck__run_query__2",
    }


def test_an_invalid_routine_at_run_time_fails_without_retry(dag_files, tmp_path) -> None:
    routine = duckdb_routine(tmp_path, query("SELECT 1"))
    routine["executors"]["StagingExecutor"] = {
        "params": {
            "parent_directory": "landing/",  # checked by preflight: it does not exist
            "dump_directory": "staging/",
            "archive_or_delete": "delete",
        },
        "tasks": [{"task": "transfer", "retries": 3}],
    }
    path = write(tmp_path, routine)
    dag_file(dag_files, path, "invalid_at_run")
    dag_run = dag_files.test("invalid_at_run", logical_date=LOGICAL)
    assert dag_run.state == "failed"
    # AirflowFailException: one try although the routine task asks for 3 retries
    assert dag_files.task_instances(dag_run)["StagingExecutor__transfer"] == ("failed", 1)


def test_a_task_group_runs_inside_an_existing_dag(dag_files, tmp_path) -> None:
    path = write(tmp_path, duckdb_routine(tmp_path, query("SELECT ? AS day", "${day}")))
    dag_files.write(
        "grouped",
        f"""
        from airflow.sdk import DAG
        from lakeroutine_airflow import RoutineStepOperator, RoutineTaskGroup

        with DAG("grouped", schedule=None) as dag:
            first = RoutineStepOperator(
                task_id="before", routine_path={str(path)!r}, step_id="duck.run_query"
            )
            tomorrow = {{"day": "{{{{ macros.ds_add(ds, 1) }}}}"}}
            first >> RoutineTaskGroup({str(path)!r}, group_id="lake", vars=tomorrow)
        """,
    )
    dag_run = dag_files.test("grouped", logical_date=LOGICAL)
    assert dag_run.state == "success"
    entries = dag_files.xcoms(dag_run)
    assert entries["before"]["output"]["preview"] == [["2026-11-01"]]  # the routine's default
    assert entries["lake.duck__run_query"]["output"]["preview"] == [["2026-11-02"]]
    assert entries["lake.duck__run_query"]["run_id"] == entries["before"]["run_id"]
