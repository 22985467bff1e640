"""RedshiftExecutor tasks over real HTTP against moto: the SQL each sends (which must parse
back with sqlglot's Redshift dialect), the order, the parameters and the reports."""

from __future__ import annotations

from typing import Any

import pytest
import sqlglot
from sqlglot import exp

ROLE = "arn:aws:iam::123456789012:role/redshift-loader"


def parse(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="redshift")


def test_execute_sql_runs_statements_in_order_with_their_parameters(
    run: Any, data_api: Any, rs_routine: Any
) -> None:
    script = """
        -- refresh the day's totals; a ; in a comment does not split
        DELETE FROM lake.totals WHERE day = :day;
        INSERT INTO lake.totals SELECT day, SUM(amount) FROM lake.sales
            WHERE day = :day AND note <> 'a;b' GROUP BY day;
        SELECT COUNT(*) FROM lake.totals WHERE region = :region AND ts::date = :day
    """
    result = run(
        rs_routine(
            [
                {
                    "task": "execute_sql",
                    "args": {"sql": script, "parameters": {"day": "2026-11-24", "region": "eu"}},
                }
            ]
        )
    )
    assert result.status == "succeeded", result.tasks[0].error
    sent = data_api.statements
    assert [type(parse(s.query_string)).__name__ for s in sent] == ["Delete", "Insert", "Select"]
    assert sent[0].query_string.startswith("-- refresh the day's totals; a ; in a comment")
    assert "'a;b'" in sent[1].query_string
    assert sent[0].query_parameters == [{"name": "day", "value": "2026-11-24"}]
    assert sorted(p["name"] for p in sent[2].query_parameters) == ["day", "region"]
    assert all(s.cluster_identifier == "lake" and s.db_user == "loader" for s in sent)
    output = result.tasks[0].output
    assert output["statement_ids"] == [s.id for s in sent]
    assert [r["status"] for r in output["statements"]] == ["FINISHED"] * 3
    assert output["statements"][0]["rows"] == 7


def test_execute_sql_reads_a_file_beside_the_routine(
    run: Any, data_api: Any, rs_routine: Any, lake: Any
) -> None:
    (lake.root / "sql").mkdir()
    (lake.root / "sql" / "setup.sql").write_text(
        "CREATE TABLE IF NOT EXISTS a (x INT);\n/* two; */ CREATE TABLE IF NOT EXISTS b (y INT);\n"
    )
    routine = rs_routine([{"task": "execute_sql", "args": {"sql_file": "sql/setup.sql"}}])
    result = run(lake.routine_file(routine))
    assert result.status == "succeeded", result.tasks[0].error
    assert data_api.sql == [
        "CREATE TABLE IF NOT EXISTS a (x INT)",
        "/* two; */ CREATE TABLE IF NOT EXISTS b (y INT)",
    ]


def test_create_schema_and_table_quote_every_name(run: Any, data_api: Any, rs_routine: Any) -> None:
    table = {
        "name": "select",  # a reserved word: only quoting makes this valid SQL
        "schema": "lake",
        "columns": [
            {"name": "id", "type": "bigint", "nullable": False},
            {"name": "day", "type": "date", "encode": "az64"},
            {"name": "amount", "type": "decimal(12, 2)"},
            {"name": "note", "type": "varchar(max)", "encode": "zstd"},
        ],
        "distkey": "id",
        "sortkey": ["day", "id"],
    }
    result = run(
        rs_routine(
            [
                {"task": "create_schema", "args": {"schema": "lake"}},
                {"task": "create_table", "args": {"table": table}},
            ]
        )
    )
    assert result.status == "succeeded", [t.error for t in result.tasks]
    schema_sql, table_sql = data_api.sql
    assert schema_sql == 'CREATE SCHEMA IF NOT EXISTS "lake"'
    tree = parse(table_sql)
    assert isinstance(tree, exp.Create)
    assert tree.this.this.name == "select"
    assert [c.name for c in tree.find_all(exp.ColumnDef)] == ["id", "day", "amount", "note"]
    regenerated = tree.sql(dialect="redshift")
    assert 'DISTSTYLE KEY DISTKEY("id") COMPOUND SORTKEY("day", "id")' in regenerated
    assert '"amount" DECIMAL(12,2)' in table_sql
    assert result.tasks[1].output["table"] == "lake.select"
    assert result.tasks[1].output["statement_id"] == data_api.statements[1].id


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_copy_append_is_one_copy(run: Any, data_api: Any, rs_routine: Any, fmt: str) -> None:
    args: dict[str, Any] = {
        "table": {"name": "sales", "schema": "lake"},
        "source": "s3://lake/staging/sales/",
        "iam_role": ROLE,
        "format": fmt,
    }
    if fmt == "csv":
        args["csv"] = {"delimiter": "|", "header": True, "null_as": "\\N"}
    data_api.rule = lambda s: ("FINISHED", 1234)
    result = run(rs_routine([{"task": "copy_from_s3", "args": args}]))
    assert result.status == "succeeded", result.tasks[0].error
    (sql,) = data_api.sql
    tree = parse(sql)
    assert isinstance(tree, exp.Copy)
    assert tree.this.sql(dialect="redshift") == '"lake"."sales"'
    assert "FROM 's3://lake/staging/sales/'" in sql
    assert f"IAM_ROLE '{ROLE}'" in sql
    if fmt == "parquet":
        assert sql.endswith("FORMAT AS PARQUET")
    else:
        assert "FORMAT AS CSV DELIMITER '|' QUOTE '\"' IGNOREHEADER 1 NULL AS '\\\\N'" in sql
    output = result.tasks[0].output
    assert output["rows_loaded"] == 1234
    assert output["mode"] == "append"


def test_copy_upsert_loads_a_work_table_then_replaces_matching_rows(
    run: Any, data_api: Any, rs_routine: Any
) -> None:
    args = {
        "table": {"name": "sales", "schema": "lake"},
        "source": "s3://lake/staging/sales/",
        "iam_role": ROLE,
        "mode": "upsert",
        "keys": ["id", "day"],
    }
    data_api.rule = lambda s: ("FINISHED", 50 if s.query_string.startswith("COPY") else 3)
    result = run(rs_routine([{"task": "copy_from_s3", "args": args}]))
    assert result.status == "succeeded", result.tasks[0].error
    sent = data_api.sql
    kinds = [type(parse(sql)).__name__ for sql in sent]
    assert kinds == ["Drop", "Create", "Copy", "Delete", "Insert", "Drop"]
    stage = parse(sent[1]).this.this.name
    assert stage.startswith("sales_lr_stage_")
    assert f'"lake"."{stage}"' in sent[2]
    delete = parse(sent[3])
    assert delete.this.sql(dialect="redshift") == '"lake"."sales"'
    condition = delete.args["where"].sql(dialect="redshift")
    assert f'"lake"."sales"."id" = "lake"."{stage}"."id"' in condition
    assert f'"lake"."sales"."day" = "lake"."{stage}"."day"' in condition
    assert sent[4] == f'INSERT INTO "lake"."sales" SELECT * FROM "lake"."{stage}"'
    # The swap is one transaction: one batch of DELETE, INSERT, DROP.
    assert [len(s.sub_statements) for s in data_api.statements] == [0, 0, 0, 3]
    output = result.tasks[0].output
    assert output["rows_loaded"] == 50
    assert output["statement_ids"] == [s.id for s in data_api.statements]


def test_copy_overwrite_deletes_every_row_only_after_the_copy(
    run: Any, data_api: Any, rs_routine: Any
) -> None:
    args = {
        "table": {"name": "sales"},
        "source": "s3://lake/staging/sales/",
        "iam_role": ROLE,
        "mode": "overwrite",
    }
    result = run(rs_routine([{"task": "copy_from_s3", "args": args}]))
    assert result.status == "succeeded", result.tasks[0].error
    sent = data_api.sql
    assert sent[2].startswith("COPY ")
    assert sent[3] == 'DELETE FROM "sales"'
    for sql in sent:
        parse(sql)


def test_unload_quotes_the_query_as_a_literal(run: Any, data_api: Any, rs_routine: Any) -> None:
    query = "SELECT id, note FROM lake.sales WHERE note = 'it''s' AND day > '2026-01-01'"
    args = {
        "query": query,
        "destination": "s3://lake/exports/sales/",
        "iam_role": ROLE,
        "format": "csv",
        "partition_by": ["day"],
        "allow_overwrite": True,
    }
    data_api.rule = lambda s: ("FINISHED", 99)
    result = run(rs_routine([{"task": "unload_to_s3", "args": args}]))
    assert result.status == "succeeded", result.tasks[0].error
    (sql,) = data_api.sql
    assert sql.startswith("UNLOAD ('SELECT id, note FROM lake.sales WHERE note = ''it''''s''")
    assert sql.endswith(
        "TO 's3://lake/exports/sales/' IAM_ROLE "
        f"'{ROLE}' FORMAT AS CSV DELIMITER AS ',' HEADER PARTITION BY (\"day\") ALLOWOVERWRITE"
    )
    # UNLOAD itself is opaque to sqlglot; the quoted query inside must come back intact.
    inner = parse(f"SELECT {sql[len('UNLOAD (') : sql.index(') TO ')]}")
    assert inner.expressions[0].this == query
    parse(query)
    assert result.tasks[0].output["rows_unloaded"] == 99


def test_plugin_loads_without_boto3(tmp_path: Any) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from lakeroutine.plugins import load_plugins; "
        "r = load_plugins(); assert 'RedshiftExecutor' in r.executors; "
        "print('boto3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"diststyle": "all"}, "DISTSTYLE ALL"),
        ({"diststyle": "even", "sortkey": ["id"]}, 'DISTSTYLE EVEN COMPOUND SORTKEY("id")'),
        (
            {"sortkey": ["id", "day"], "sortkey_style": "interleaved"},
            'INTERLEAVED SORTKEY("id", "day")',
        ),
        ({}, '"day" DATE)'),
    ],
)
def test_table_distribution_and_sort_styles(
    run: Any, data_api: Any, rs_routine: Any, extra: dict, expected: str
) -> None:
    table = {
        "name": "t",
        "columns": [{"name": "id", "type": "int"}, {"name": "day", "type": "date"}],
    }
    result = run(rs_routine([{"task": "create_table", "args": {"table": {**table, **extra}}}]))
    assert result.status == "succeeded", result.tasks[0].error
    (sql,) = data_api.sql
    assert sql.endswith(expected)
    parse(sql)


def test_execute_sql_reports_the_first_rows_of_the_result(
    run: Any, data_api: Any, rs_routine: Any
) -> None:
    def rule(statement: Any) -> tuple[str, Any]:
        statement.has_result_set = True  # moto answers every result with 3 canned rows
        return ("FINISHED", 3)

    data_api.rule = rule
    task = {"task": "execute_sql", "args": {"sql": "SELECT * FROM addresses", "fetch_rows": 2}}
    result = run(rs_routine([task]))
    assert result.status == "succeeded", result.tasks[0].error
    assert result.tasks[0].output["result"] == {
        "columns": ["Number", "Street", "City"],
        "rows": [[10, "Alpha st", "Vancouver"], [50, "Beta st", "Toronto"]],
    }
