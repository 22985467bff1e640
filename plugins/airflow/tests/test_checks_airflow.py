"""A routine's ``check`` task under real Airflow: a warning lets the task succeed, with the
warning in the task's log and the outcomes in XCom; an error check failing fails the task
and the steps after it do not run."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lakeroutine.testing import check_golden as golden
from lr_airflow_routines import duckdb_routine, query, write


def checked_routine(tmp_path: Path, checks: list[dict[str, Any]]) -> Path:
    golden.write_parquet(tmp_path / "lake")
    table = {**golden.ORDERS_SPEC, "location": str(tmp_path / "lake" / "orders")}
    routine = duckdb_routine(
        tmp_path,
        {"task": "create_table", "args": {"table": table}},
        {"task": "check", "args": {"table": "orders", "checks": checks}},
        query("SELECT 1 AS one"),
    )
    return write(tmp_path, routine)


def dag_file(dag_files, path: Path, dag_id: str) -> None:
    dag_files.write(
        dag_id,
        f"""
        from lakeroutine_airflow import routine_dag

        dag = routine_dag({str(path)!r}, dag_id={dag_id!r}, schedule=None)
        """,
    )


def test_a_warning_shows_in_the_log_and_xcom(dag_files, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO)
    checks = [{"kind": "accepted_values", "column": "status",
               "values": ["new", "paid", "shipped"], "severity": "warn"}]  # fmt: skip
    dag_file(dag_files, checked_routine(tmp_path, checks), "checks_warn")

    dag_run = dag_files.test("checks_warn")

    assert dag_run.state == "success"
    [outcome] = dag_files.xcoms(dag_run, key="lakeroutine_checks")["duck__check"]
    assert (outcome["check"], outcome["status"], outcome["failing_rows"]) == (
        "accepted_values_status",
        "warned",
        1,
    )
    entry = dag_files.xcoms(dag_run)["duck__check"]
    assert entry["output"]["warned"] == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "check accepted_values_status on main.orders warned: 1 of 12 rows fail" in line
        for line in warnings
    )


def test_an_error_check_fails_the_task(dag_files, tmp_path) -> None:
    checks = [{"kind": "relationship", "column": "customer_id", "to_table": "orders",
               "to_column": "id"}]  # fmt: skip
    dag_file(dag_files, checked_routine(tmp_path, checks), "checks_fail")

    dag_run = dag_files.test("checks_fail")

    assert dag_run.state == "failed"
    states = {task: state for task, (state, _) in dag_files.task_instances(dag_run).items()}
    assert states["duck__check"] == "failed"
    assert states["duck__run_query"] == "upstream_failed"
    [outcome] = dag_files.xcoms(dag_run, key="lakeroutine_checks")["duck__check"]
    assert (
        outcome["status"] == "failed" and outcome["failing_rows"] == 7
    )  # customer ids 12-14 and 99 are no order id
