"""AthenaExecutor.check: the Trino SQL of the golden checks parses as Athena SQL, runs on
the DuckDB twin (translated by sqlglot) with the verdicts written by hand, and the task over
moto's Athena sends that one query, judges the rows Athena returns and reports the bytes
scanned and the cost; write-audit-publish sends its INSERTs only when the audit passes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pytest
import sqlglot
from lakeroutine.errors import RoutineError
from lakeroutine.sql.check_schema import schema_query
from lakeroutine.sql.check_sql import compile_checks
from lakeroutine.sql.check_verdicts import judge
from lakeroutine.sql.checks import CheckArgs
from lakeroutine.sql.tables import quote_qualified
from lakeroutine.testing import check_golden as golden

NOW = dt.datetime(2024, 1, 8, 10, tzinfo=dt.timezone.utc)


def athena_sql(sql: str) -> sqlglot.exp.Expression:
    """``sql`` parsed as Athena SQL: exactly one statement, or the test fails."""
    statements = sqlglot.parse(sql, read="athena")
    assert len(statements) == 1, sql
    return statements[0]


def on_twin(con: Any, sql: str) -> tuple[list[str], list[tuple]]:
    """Athena's SQL translated by sqlglot and run by DuckDB."""
    translated = athena_sql(sql).sql(dialect="duckdb")
    cursor = con.execute(translated)
    return [d[0] for d in cursor.description], cursor.fetchall()


@pytest.fixture
def twin() -> Any:
    con = duckdb.connect()
    golden.create_tables(con, "lake")
    con.execute("USE lake")  # custom SQL names tables bare, as in Athena's database
    yield con
    con.close()


def compiled_for_athena(checks: list[dict[str, Any]], **args: Any) -> Any:
    parsed = CheckArgs.model_validate({"table": "orders", "checks": checks, **args})
    return compile_checks(
        parsed,
        table_sql=quote_qualified(["lake", "orders"], "trino"),
        dialect="trino",
        other_table=lambda name: quote_qualified(["lake", name], "trino"),
    )


def test_athena_sql_gives_the_golden_verdicts_on_the_twin(twin: Any) -> None:
    compiled = compiled_for_athena(golden.CHECKS)
    columns, rows = on_twin(twin, compiled.query)
    _, found = on_twin(twin, schema_query("lake", "orders", "trino"))

    outcomes = judge(compiled, dict(zip(columns, rows[0], strict=True)), now=NOW, schema_rows=found)

    assert golden.verdicts(outcomes) == golden.EXPECTED
    for outcome in outcomes:  # every sample query is Athena SQL the twin runs
        sample = compiled.sample_query(outcome["check"], 5)
        if sample and outcome.get("failing_rows"):
            assert len(on_twin(twin, sample)[1]) >= 1, outcome["check"]


def test_athena_publish_and_quarantine_sql_run_on_the_twin(twin: Any) -> None:
    checks = [
        {"kind": "not_null", "column": "customer_id", "quarantine": True},
        {"kind": "regex", "column": "email", "pattern": "^[^@]+@", "quarantine": True},
        {"kind": "relationship", "column": "customer_id", "to_table": "customers",
         "to_column": "id", "quarantine": True},
    ]  # fmt: skip
    compiled = compiled_for_athena(checks, publish={"table": "p", "quarantine_table": "q"})

    _, kept = on_twin(twin, compiled.publish_query())
    _, held = on_twin(twin, compiled.quarantine_query())

    assert sorted(r[0] for r in kept) == [1, 2, 2, 4, 5, 6, 9, 10, 11]
    assert sorted((r[0], r[-2]) for r in held) == [
        (3, "not_null_customer_id"),
        (7, "relationship_customer_id"),
        (8, "regex_email"),
    ]


def test_athena_quarantine_by_unique_and_custom_sql_runs_on_the_twin(twin: Any) -> None:
    checks = [
        {"kind": "unique", "name": "one_status_a_customer", "columns": ["customer_id", "status"],
         "quarantine": True},
        {"kind": "custom_sql", "name": "unknown_customer", "quarantine": True,
         "key": ["customer_id"],
         "sql": "SELECT o.customer_id FROM orders o LEFT JOIN customers c "
                "ON o.customer_id = c.id WHERE c.id IS NULL"},
    ]  # fmt: skip
    compiled = compiled_for_athena(checks, publish={"table": "p", "quarantine_table": "q"})

    assert "lr_hit" not in compiled.query  # the joins finding held rows stay out of the scan
    _, kept = on_twin(twin, compiled.publish_query())
    _, held = on_twin(twin, compiled.quarantine_query())

    assert sorted(r[0] for r in kept) == [1, 2, 2, 3, 4, 8, 9, 10, 11]
    assert sorted((r[0], r[-2]) for r in held) == [
        (5, "one_status_a_customer"),
        (6, "one_status_a_customer"),
        (7, "unknown_customer"),
    ]


def test_check_task_on_athena_sends_one_query_and_reports_cost(
    athena: Any, run, twin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.athena.models import Execution

    monkeypatch.setattr(Execution, "data_scanned_bytes", 3 * 2**30, raising=False)
    checks = [c for c in golden.CHECKS if c["kind"] != "schema"]
    compiled = compiled_for_athena(checks)
    columns, rows = on_twin(twin, compiled.query)  # what Athena would answer
    types = ["bigint" if isinstance(v, int) else "varchar" for v in rows[0]]
    athena.seed_results(list(zip(columns, types, strict=True)), [list(rows[0])])
    task = {"task": "check", "args": {"table": "orders", "checks": checks, "sample_rows": 0}}

    result = run(athena.routine(task))

    [sent] = athena.queries
    assert sent == compiled.query
    athena_sql(sent)
    output = result.tasks[0].output
    expected = {k: v for k, v in golden.EXPECTED.items() if not k.startswith("schema")}
    assert golden.verdicts(output["checks"]) == expected
    assert result.tasks[0].status == "failed"
    assert output["data_scanned_bytes"] == 3 * 2**30
    assert output["estimated_cost_usd"] == pytest.approx(5.0 * 3 / 1024)
    assert output["queries"][0]["query_execution_id"]


def test_passing_audit_on_athena_inserts_published_and_quarantined_rows(athena: Any, run) -> None:
    checks = [{"kind": "not_null", "column": "customer_id", "quarantine": True}]
    athena.seed_results([("lr_rows", "bigint"), ("c0", "bigint")], [[12, 1]])
    args = {"table": "orders", "checks": checks,
            "publish": {"table": "orders_live", "quarantine_table": "orders_held"}}  # fmt: skip

    result = run(athena.routine({"task": "check", "args": args}))

    assert result.status == "succeeded", result.tasks[0].error
    scan, publish, quarantine = athena.queries
    assert publish.startswith('INSERT INTO "lake"."orders_live"\nSELECT t.*')
    assert quarantine.startswith('INSERT INTO "lake"."orders_held"\nSELECT t.*')
    for sql in (scan, publish, quarantine):
        athena_sql(sql)
    assert result.tasks[0].output["published"]["quarantined_by_check"] == {
        "not_null_customer_id": 1
    }


def test_failed_audit_on_athena_inserts_nothing(athena: Any, run) -> None:
    checks = [{"kind": "not_null", "column": "customer_id"}]
    athena.seed_results([("lr_rows", "bigint"), ("c0", "bigint")], [[12, 1]])
    args = {"table": "orders", "checks": checks, "sample_rows": 0,
            "publish": {"table": "orders_live"}}  # fmt: skip

    result = run(athena.routine({"task": "check", "args": args}))

    assert result.status == "failed"
    assert "not_null_customer_id" in result.tasks[0].error
    assert len(athena.queries) == 1  # the scan only: no INSERT


def test_athena_publish_refuses_locations(athena: Any, run) -> None:
    args = {"table": "orders", "checks": [{"kind": "not_null", "column": "id"}],
            "publish": {"table": "live", "location": "s3://lake/live/"}}  # fmt: skip
    with pytest.raises(RoutineError, match="INSERT INTO existing tables"):
        run(athena.routine({"task": "check", "args": args}))
    assert athena.queries == []


def test_athena_publish_replace_is_refused_offline(athena: Any, run) -> None:
    args = {"table": "orders", "checks": [{"kind": "not_null", "column": "id"}],
            "publish": {"table": "live", "mode": "replace"}}  # fmt: skip
    with pytest.raises(RoutineError, match="mode replace is not supported on Athena"):
        run(athena.routine({"task": "check", "args": args}))
