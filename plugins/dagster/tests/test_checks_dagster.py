"""A routine's ``check`` task under Dagster: each check's outcome is an asset check
evaluation on the checked table's asset (passed, or failed with its severity), a warning
lets the job go on and an error check failing fails the op, with the evaluations logged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
from lakeroutine.testing import check_golden as golden
from lakeroutine_dagster import routine_definitions


def duck_routine(tmp_path: Path, checks: list[dict[str, Any]]) -> Path:
    golden.write_parquet(tmp_path / "lake")
    table = {**golden.ORDERS_SPEC, "location": "lake/orders/"}
    spec = {
        "routine_name": "checked",
        "state_dir": str(tmp_path / "state"),
        "executors": {
            "duck": {
                "executor": "DuckDBExecutor",
                "params": {"database": "lake.duckdb"},
                "tasks": [
                    {"task": "create_table", "args": {"table": table}},
                    {"task": "check", "args": {"table": "orders", "checks": checks}},
                    {"task": "run_query", "args": {"sql": "SELECT 1"}},
                ],
            }
        },
    }
    path = tmp_path / "routine.json"
    path.write_text(json.dumps(spec))
    return path


def evaluations(result: Any) -> dict[str, Any]:
    found = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            found[data.check_name] = data
    return found


def test_check_outcomes_are_asset_check_evaluations(tmp_path: Path) -> None:
    checks = [
        {"kind": "row_count", "min": 5},
        {"kind": "accepted_values", "column": "status", "values": ["new", "paid", "shipped"],
         "severity": "warn"},
    ]  # fmt: skip
    defs = routine_definitions(duck_routine(tmp_path, checks))

    result = defs.get_job_def("checked").execute_in_process(raise_on_error=False)

    assert result.success  # a warning does not stop the job
    found = evaluations(result)
    assert set(found) == {"row_count", "accepted_values_status"}
    assert found["row_count"].passed is True
    warned = found["accepted_values_status"]
    assert warned.passed is False and warned.severity == dg.AssetCheckSeverity.WARN
    assert warned.asset_key == dg.AssetKey(["lakeroutine", "main", "orders"])
    assert warned.metadata["failing_rows"].value == 1
    assert warned.description == "1 of 12 rows fail (allowed 0)"


def test_an_error_check_fails_the_op_after_logging_its_evaluation(tmp_path: Path) -> None:
    checks = [{"kind": "not_null", "column": "customer_id"}]
    defs = routine_definitions(duck_routine(tmp_path, checks))

    result = defs.get_job_def("checked").execute_in_process(raise_on_error=False)

    assert not result.success
    failed = evaluations(result)["not_null_customer_id"]
    assert failed.passed is False and failed.severity == dg.AssetCheckSeverity.ERROR
    ran = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert ran == {"duck__create_table"}  # the query after the failed audit did not run
