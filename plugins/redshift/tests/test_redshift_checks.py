"""RedshiftExecutor.check over moto's Data API, whose statements here really run: the
emulator's GetStatementResult is answered by running the statement's Redshift SQL,
translated by sqlglot, on a DuckDB twin holding the golden tables. The golden verdicts
come back; publishing is one transaction of INSERTs, sent only when the audit passes."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
import sqlglot
from lakeroutine.testing import check_golden as golden

SVV_COLUMNS = """
CREATE VIEW sales.svv_columns AS
SELECT table_schema, table_name, column_name, ordinal_position, numeric_precision,
  numeric_scale,
  CASE data_type WHEN 'INTEGER' THEN 'integer' WHEN 'VARCHAR' THEN 'character varying'
    WHEN 'DOUBLE' THEN 'double precision' WHEN 'TIMESTAMP' THEN 'timestamp without time zone'
    WHEN 'BIGINT' THEN 'bigint' ELSE lower(data_type) END AS data_type
FROM information_schema.columns
"""
"""Redshift's catalog view on the twin, types spelt as svv_columns spells them."""


@pytest.fixture
def twin_results(data_api: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto's GetStatementResult answered by the DuckDB twin."""
    from moto.redshiftdata.models import (
        ColumnMetadata,
        Record,
        RedshiftDataAPIServiceBackend,
        StatementResult,
    )

    con = duckdb.connect()
    golden.create_tables(con, "sales")
    con.execute(SVV_COLUMNS)

    def get_statement_result(self: Any, statement_id: str) -> Any:
        sql = self.statements[statement_id].query_string
        translated = sqlglot.transpile(sql, read="redshift", write="duckdb")
        assert len(translated) == 1, sql
        cursor = con.cursor()  # called on the server's threads
        cursor.execute("USE sales")  # the search path: custom SQL names tables bare
        cursor.execute(translated[0])
        columns = [d[0] for d in cursor.description]
        records = [
            [
                {"isNull": True}
                if v is None
                else dict(Record(long_value=v))
                if isinstance(v, int)
                else dict(Record(string_value=str(v)))
                for v in row
            ]
            for row in cursor.fetchall()
        ]
        metadata = [dict(ColumnMetadata(None, True, True, name, 1)) for name in columns]
        return StatementResult(metadata, records, len(records))

    monkeypatch.setattr(RedshiftDataAPIServiceBackend, "get_statement_result", get_statement_result)
    yield con
    con.close()


def test_golden_verdicts_on_redshift(twin_results: Any, data_api: Any, rs_routine, run) -> None:
    checks = golden.CHECKS
    task = {"task": "check", "args": {"table": "orders", "schema": "sales", "checks": checks}}

    result = run(rs_routine([task]))

    output = result.tasks[0].output
    assert golden.verdicts(output["checks"]) == golden.EXPECTED
    scan = data_api.sql[0]
    assert scan.startswith("SELECT\n  count(*) AS lr_rows")
    assert '"sales"."orders" AS t' in scan and "~ '^[^@]+@[^@]+[.][a-z]+$'" in scan
    assert len(output["statement_ids"]) == len(data_api.sql)


def test_publish_on_redshift_is_one_transaction_after_the_audit(
    twin_results: Any, data_api: Any, rs_routine, run
) -> None:
    checks = [{"kind": "not_null", "column": "customer_id", "quarantine": True}]
    args = {"table": "orders", "schema": "sales", "checks": checks,
            "publish": {"table": "orders_live", "quarantine_table": "orders_held",
                        "mode": "replace"}}  # fmt: skip

    result = run(rs_routine([{"task": "check", "args": args}]))

    assert result.status == "succeeded", result.tasks[0].error
    batch = data_api.statements[-1]
    inserts = [s["QueryString"] for s in batch.sub_statements]
    assert [s.split("\n")[0] for s in inserts] == [
        'DELETE FROM "sales"."orders_live"',
        'INSERT INTO "sales"."orders_live"',
        'INSERT INTO "sales"."orders_held"',
    ]
    for sql in inserts:
        sqlglot.parse_one(sql, read="redshift")


def test_failed_audit_on_redshift_inserts_nothing(
    twin_results: Any, data_api: Any, rs_routine, run
) -> None:
    checks = [{"kind": "relationship", "column": "customer_id", "to_table": "customers",
               "to_column": "id"}]  # fmt: skip
    args = {"table": "orders", "schema": "sales", "checks": checks,
            "publish": {"table": "orders_live"}}  # fmt: skip

    result = run(rs_routine([{"task": "check", "args": args}]))

    assert result.status == "failed"
    assert "relationship_customer_id (1 of 12 rows fail" in result.tasks[0].error
    assert not any(sql.startswith("INSERT") for sql in data_api.sql)


def test_redshift_quarantine_by_unique_and_custom_sql_runs_on_the_twin() -> None:
    from lakeroutine.sql.check_sql import compile_checks
    from lakeroutine.sql.checks import CheckArgs

    checks = [
        {"kind": "unique", "name": "one_status_a_customer", "columns": ["customer_id", "status"],
         "quarantine": True},
        {"kind": "custom_sql", "name": "big_new_orders", "quarantine": True, "key": ["id"],
         "sql": "SELECT id FROM orders WHERE status = 'new' AND amount > 900"},
    ]  # fmt: skip
    args = CheckArgs.model_validate(
        {"table": "orders", "checks": checks, "publish": {"table": "p", "quarantine_table": "q"}}
    )
    compiled = compile_checks(args, table_sql='"sales"."orders"', dialect="redshift")
    con = duckdb.connect()
    golden.create_tables(con, "sales")
    con.execute("USE sales")

    def on_twin(sql: str) -> list[tuple]:
        (translated,) = sqlglot.transpile(sql, read="redshift", write="duckdb")
        return con.execute(translated).fetchall()

    kept = sorted(r[0] for r in on_twin(compiled.publish_query()))
    held = sorted((r[0], r[-2]) for r in on_twin(compiled.quarantine_query()))
    con.close()
    assert kept == [1, 2, 2, 3, 4, 7, 8, 9, 11]
    assert held == [(5, "one_status_a_customer"), (6, "one_status_a_customer"),
                    (10, "big_new_orders")]  # fmt: skip


def test_schema_check_compares_types_on_redshift(
    twin_results: Any, data_api: Any, rs_routine, run
) -> None:
    checks = [
        {"kind": "schema", "name": "as_declared",
         "columns": {"id": "int", "status": "varchar(20)", "amount": "double",
                     "created_at": "timestamp"}},
        {"kind": "schema", "name": "drifted", "severity": "warn",
         "columns": {"id": "bigint", "amount": "decimal(10,2)", "email": "string"}},
    ]  # fmt: skip
    task = {"task": "check", "args": {"table": "orders", "schema": "sales", "checks": checks}}

    result = run(rs_routine([task]))

    by_name = {o["check"]: o for o in result.tasks[0].output["checks"]}
    assert by_name["as_declared"]["status"] == "passed", by_name["as_declared"]
    assert by_name["drifted"]["status"] == "warned"
    assert by_name["drifted"]["detail"] == (
        "column id is integer, expected bigint; column amount is double, expected decimal(10,2)"
    )
    assert any("svv_columns" in sql for sql in data_api.sql)
