"""Data quality assertions end to end: a DuckDB ``check`` task's outcomes reach the checked
table's input dataset as the ``dataQualityAssertions`` facet, on FAIL as on COMPLETE, and
every event validates against the vendored schemas (the facet's included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lakeroutine import run_routine
from lakeroutine.testing import check_golden as golden
from lr_openlineage_helpers import read_events, validate_event

CHECKS = golden.CHECKS

# by hand, from golden.CHECKS: the column each check names (None: the whole table)
COLUMNS = {
    "row_count": None,
    "not_null_customer_id": "customer_id",
    "unique_id": "id",
    "unique_customer_status": None,  # two columns
    "accepted_values_status": "status",
    "range_amount": "amount",
    "regex_email": "email",
    "fresh_business_days": "created_at",
    "fresh_hours": "created_at",
    "relationship_customer_id": "customer_id",
    "schema": None,
    "schema_exact": None,
    "big_new_orders": None,
}


def routine(tmp: Path, checks: list[dict[str, Any]]) -> Path:
    """The golden tables on DuckDB, then one check task on ``orders``."""
    golden.write_parquet(tmp / "lake")
    tables = [
        {"task": "create_table", "args": {"table": {**spec, "location": f"lake/{name}/"}}}
        for name, spec in (("orders", golden.ORDERS_SPEC), ("customers", golden.CUSTOMERS_SPEC))
    ]
    check = {"task": "check", "args": {"table": "orders", "checks": checks, "sample_rows": 0}}
    spec = {
        "routine_name": "quality",
        "executors": {
            "DuckDBExecutor": {
                "params": {"database": "db/lake.duckdb"},
                "tasks": [*tables, check],
            }
        },
    }
    path = tmp / "routine.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def check_events(lineage_file: Path) -> list[dict[str, Any]]:
    events = read_events(lineage_file)
    for event in events:
        validate_event(event)
    return [e for e in events if e["job"]["name"] == "quality.DuckDBExecutor.check"]


def test_check_outcomes_become_the_checked_tables_assertions_facet(tmp_path, lineage_file):
    result = run_routine(routine(tmp_path, golden.CHECKS))
    assert result.status == "failed"  # five error checks fail on the golden table
    start, fail = check_events(lineage_file)
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    [table] = fail["inputs"]
    database = (tmp_path / "db" / "lake.duckdb").resolve()
    assert (table["namespace"], table["name"]) == (f"duckdb://{database}", "main.orders")
    facet = table["inputFacets"]["dataQualityAssertions"]
    kinds = {c.get("name") or golden_label(c): c["kind"] for c in golden.CHECKS}
    got = [(a["assertion"], a["success"], a.get("column")) for a in facet["assertions"]]
    want = [
        (kinds[name], status == "passed", COLUMNS[name])
        for name, (status, _) in golden.EXPECTED.items()
    ]
    assert got == want
    assert sum(not a["success"] for a in facet["assertions"]) == 9  # 5 failed, 4 warned
    assert [a["name"] for a in facet["assertions"]] == list(golden.EXPECTED)
    severities = {c.get("name") or golden_label(c): c.get("severity", "error") for c in CHECKS}
    assert [a["severity"] for a in facet["assertions"]] == [severities[n] for n in golden.EXPECTED]
    # and the same as the task's own report says
    [task] = [t for t in result.tasks if t.output and "checks" in t.output]
    assert [o["status"] == "passed" for o in task.output["checks"]] == [g[1] for g in got]


def test_a_passing_check_task_completes_with_its_assertions(tmp_path, lineage_file):
    checks = [
        {"kind": "row_count", "min": 1},
        {"kind": "not_null", "column": "id", "severity": "warn"},
    ]
    assert run_routine(routine(tmp_path, checks)).status == "succeeded"
    start, complete = check_events(lineage_file)
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    [table] = complete["inputs"]
    assertions = table["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [(a["assertion"], a["success"], a.get("column")) for a in assertions] == [
        ("row_count", True, None),
        ("not_null", True, "id"),
    ]


def golden_label(check: dict[str, Any]) -> str:
    """A check's default name (kind_column), as the routine docs define it."""
    column = check.get("column")
    return f"{check['kind']}_{column}" if column else check["kind"]
