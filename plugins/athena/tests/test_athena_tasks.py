"""AthenaExecutor tasks over moto's server: the statements Athena receives, parsed back with
sqlglot, and results read back page by page."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from lakeroutine.errors import RoutineError
from sqlglot import exp

TABLE = {
    "name": "sales",
    "columns": {"name": "string", "amount": "decimal(10,2)", "tags": "array<string>"},
    "partitioned_by": {"dt": "date", "region": "string"},
    "format": "parquet",
    "location": "s3://lake/staging/sales",
}


def parse(sql: str) -> exp.Expression:
    statements = sqlglot.parse(sql, dialect="athena")
    assert len(statements) == 1, sql
    return statements[0]


def succeeded(result: Any) -> list[Any]:
    assert result.status == "succeeded", [t.error for t in result.tasks]
    return [t.output for t in result.tasks]


def test_create_table_ddl_parses_back_to_the_spec(athena: Any, run, tmp_path) -> None:
    result = run(
        athena.routine("create_database", {"task": "create_table", "args": {"table": TABLE}}),
    )
    db_output, table_output = succeeded(result)
    assert parse(athena.queries[0]).sql("athena") == "CREATE DATABASE IF NOT EXISTS `lake`"
    assert db_output["state"] == "SUCCEEDED" and db_output["database"] == "lake"

    tree = parse(athena.queries[1])
    assert isinstance(tree, exp.Create) and tree.args["exists"]  # if_exists: skip by default
    table = tree.this.this
    assert (table.args["db"].name, table.name) == ("lake", "sales")
    columns = {c.name: c.args["kind"].sql("hive") for c in tree.this.expressions}
    assert columns == {"name": "STRING", "amount": "DECIMAL(10, 2)", "tags": "ARRAY<STRING>"}
    partitions = tree.find(exp.PartitionedByProperty).this.expressions
    assert [(c.name, c.args["kind"].sql("hive")) for c in partitions] == [
        ("dt", "DATE"),
        ("region", "STRING"),
    ]
    assert tree.find(exp.FileFormatProperty).this.name == "PARQUET"
    assert tree.find(exp.LocationProperty).this.this == "s3://lake/staging/sales/"

    assert table_output["query_execution_id"] == athena.executions[1].id
    assert table_output["state"] == "SUCCEEDED"
    assert table_output["data_scanned_bytes"] == 0
    assert table_output["estimated_cost_usd"] == 0.0  # DDL is free
    assert table_output["table"] == "lake.sales"
    context = athena.executions[1].context
    assert context == {"Database": "lake", "Catalog": "AwsDataCatalog"}
    assert athena.executions[1].config["OutputLocation"].startswith("s3://results/athena/")


def test_if_exists_replace_drops_first_and_fail_creates_plainly(athena: Any, run) -> None:
    replace = {"task": "create_table", "args": {"table": TABLE, "if_exists": "replace"}}
    fail = {"task": "create_table", "args": {"table": TABLE, "if_exists": "fail"}}
    outputs = succeeded(run(athena.routine(replace, fail)))
    drop, create, plain = (parse(q) for q in athena.queries)
    assert drop.sql("athena") == "DROP TABLE IF EXISTS `lake`.`sales`"
    assert isinstance(create, exp.Create) and not create.args["exists"]
    assert isinstance(plain, exp.Create) and not plain.args["exists"]
    assert [q["query_execution_id"] for q in outputs[0]["queries"]] == [
        athena.executions[0].id,
        athena.executions[1].id,
    ]


def test_csv_and_json_tables(athena: Any, run) -> None:
    csv_table = {
        **TABLE,
        "name": "raw",
        "format": "csv",
        "delimiter": ";",
        "header_lines": 1,
        "properties": {"classification": "csv"},
    }
    json_table = {**TABLE, "name": "events", "format": "json", "partitioned_by": {}}
    tasks = [{"task": "create_table", "args": {"table": t}} for t in (csv_table, json_table)]
    succeeded(run(athena.routine(*tasks)))
    raw, events = (parse(q) for q in athena.queries)
    assert "ROW FORMAT DELIMITED FIELDS TERMINATED BY ';'" in raw.sql("athena")
    props = {
        p.name: p.args["value"].this for p in raw.find_all(exp.Property) if type(p) is exp.Property
    }
    assert props == {"classification": "csv", "skip.header.line.count": "1"}
    serde = events.find(exp.RowFormatSerdeProperty).this.this
    assert serde == "org.openx.data.jsonserde.JsonSerDe"


def test_partitions_repair_and_drop(athena: Any, run) -> None:
    add = {
        "task": "add_partitions",
        "args": {
            "table": "sales",
            "location": "s3://lake/staging/sales/",
            "partitions": [
                {"values": {"dt": "2024-01-01", "region": "eu"}},
                {"values": {"dt": "2024-01-02", "region": "us"}},
                {"values": {"dt": "2024-01-03", "region": "x'y"}, "location": "s3://other/p/"},
            ],
            "batch_size": 2,
        },
    }
    outputs = succeeded(
        run(
            athena.routine(
                add,
                {"task": "repair_table", "args": {"table": "sales"}},
                {"task": "drop_table", "args": {"table": "sales"}},
            )
        )
    )
    first, second, repair, drop = athena.queries
    # sqlglot parses one partition per ALTER: check each clause of a batch on its own
    head, *clauses = first.split("\n")
    assert head == "ALTER TABLE `lake`.`sales` ADD IF NOT EXISTS" and len(clauses) == 2
    trees = [parse(f"{head} {clause}") for clause in clauses]
    assert all(isinstance(tree, exp.Alter) for tree in trees)
    assert [[e.expression.this for e in t.find_all(exp.EQ)] for t in trees] == [
        ["2024-01-01", "eu"],
        ["2024-01-02", "us"],
    ]
    assert trees[0].find(exp.LocationProperty).this.this == (
        "s3://lake/staging/sales/dt=2024-01-01/region=eu/"
    )
    head, clause = second.split("\n")
    hostile = parse(f"{head} {clause}")  # a quote in a value stays inside its literal
    assert [e.expression.this for e in hostile.find_all(exp.EQ)] == ["2024-01-03", "x'y"]
    assert hostile.find(exp.LocationProperty).this.this == "s3://other/p/"
    assert repair == "MSCK REPAIR TABLE `lake`.`sales`"
    assert parse(drop).sql("athena") == "DROP TABLE IF EXISTS `lake`.`sales`"
    assert outputs[0]["partitions"] == 3 and len(outputs[0]["queries"]) == 2


def test_run_query_sends_parameters_as_quoted_literals(athena: Any, run) -> None:
    query = {
        "task": "run_query",
        "args": {
            "sql": "SELECT * FROM sales WHERE name = ? AND qty > ? AND ok = ? AND n IS ?;",
            "parameters": ["it's", 5, True, None],
        },
    }
    athena.seed_results([("name", "varchar")], [["ana"]])
    (output,) = succeeded(run(athena.routine(query)))
    execution = athena.executions[0]
    assert execution.query == "SELECT * FROM sales WHERE name = ? AND qty > ? AND ok = ? AND n IS ?"
    assert execution.execution_parameters == ["'it''s'", "5", "TRUE", "NULL"]
    assert output["preview"] == [["ana"]] and output["columns"] == ["name"]


def test_sql_file_takes_routine_and_task_vars(athena: Any, run, tmp_path: Path) -> None:
    (tmp_path / "daily.sql").write_text(
        "-- totals\nSELECT sum(amount) FROM ${table} WHERE dt = DATE '${run_date}';\n"
    )
    spec = athena.routine(
        {"task": "run_query", "args": {"sql_file": "daily.sql", "vars": {"table": "sales"}}}
    )
    path = tmp_path / "routine.json"
    path.write_text(json.dumps(spec))
    result = run(path)
    succeeded(result)
    day = f"{result.run_id[:4]}-{result.run_id[4:6]}-{result.run_id[6:8]}"
    assert athena.queries == [f"-- totals\nSELECT sum(amount) FROM sales WHERE dt = DATE '{day}'"]

    (tmp_path / "daily.sql").write_text("SELECT ${nope}")
    with pytest.raises(RoutineError) as info:
        run(path)
    assert info.value.field == "args" and "unknown variable ${nope}" in info.value.message
    assert len(athena.queries) == 1


def test_results_read_back_across_pages_into_files(athena: Any, run, tmp_path) -> None:
    columns = [
        ("name", "varchar"),
        ("qty", "bigint"),
        ("price", "double"),
        ("ok", "boolean"),
        ("amount", "decimal(10,2)"),
    ]
    rows = [[f"n{i}", i, i / 4, i % 2 == 0, f"{i}.10"] for i in range(2500)]
    rows[3][1] = None
    athena.seed_results(columns, rows)
    athena.seed_results(columns, rows)
    queries = [
        {"task": "run_query", "args": {"sql": "SELECT 1", "output": "out/rows.csv"}},
        {"task": "run_query", "args": {"sql": "SELECT 2", "output": "out/rows.json"}},
    ]
    path = tmp_path / "routine.json"
    path.write_text(json.dumps(athena.routine(*queries)))
    as_csv, as_json = succeeded(run(path))
    with (tmp_path / "out" / "rows.csv").open() as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["name", "qty", "price", "ok", "amount"]
    assert len(lines) == 2501 and lines[-1] == ["n2499", "2499", "624.75", "false", "2499.10"]
    assert lines[4][1] == ""  # NULL
    assert as_csv["rows"] == 2500 and as_csv["output"] == str(tmp_path / "out" / "rows.csv")
    assert len(as_csv["preview"]) == 10 and as_csv["preview"][1] == ["n1", 1, 0.25, False, "1.10"]
    loaded = json.loads((tmp_path / "out" / "rows.json").read_text())
    assert len(loaded) == 2500
    assert loaded[2] == {"name": "n2", "qty": 2, "price": 0.5, "ok": True, "amount": "2.10"}
    assert loaded[3]["qty"] is None
    assert as_json["rows"] == 2500


def test_results_follow_next_token(athena: Any, run, monkeypatch, tmp_path) -> None:
    """Real Athena pages at 1,000 rows; moto returns everything at once, so the emulator is
    made to page (by NextToken) like the service does."""
    from moto.athena.responses import AthenaResponse

    original = AthenaResponse.get_query_results
    calls = []

    def paged(self: AthenaResponse) -> str:
        body = json.loads(original(self))
        start = int(self._get_param("NextToken") or 0)
        size = int(self._get_param("MaxResults") or 1000)
        calls.append((start, size))
        every = body["ResultSet"]["Rows"]
        body["ResultSet"]["Rows"] = every[start : start + size]
        if start + size < len(every):
            body["NextToken"] = str(start + size)
        return json.dumps(body)

    monkeypatch.setattr(AthenaResponse, "get_query_results", paged)
    athena.seed_results([("n", "integer")], [[i] for i in range(2345)])
    path = tmp_path / "routine.json"
    query = {"task": "run_query", "args": {"sql": "SELECT n FROM t", "output": "n.jsonl"}}
    path.write_text(json.dumps(athena.routine(query)))
    (output,) = succeeded(run(path))
    assert [start for start, _ in calls] == [0, 1000, 2000]
    lines = (tmp_path / "n.jsonl").read_text().splitlines()
    assert [json.loads(line)["n"] for line in lines] == list(range(2345))
    assert output["rows"] == 2345 and output["preview"][:2] == [[0], [1]]


def test_ctas_statement(athena: Any, run) -> None:
    ctas = {
        "task": "ctas",
        "args": {
            "table": "daily",
            "sql": "SELECT name, sum(amount) AS total, dt FROM sales GROUP BY name, dt",
            "location": "s3://lake/marts/daily",
            "format": "parquet",
            "partitioned_by": ["dt"],
            "if_exists": "replace",
        },
    }
    (output,) = succeeded(run(athena.routine(ctas)))
    drop, create = athena.queries
    assert drop == "DROP TABLE IF EXISTS `lake`.`daily`"
    tree = sqlglot.parse_one(create, dialect="trino")
    assert isinstance(tree, exp.Create) and isinstance(tree.expression, exp.Select)
    assert tree.this.name == "daily" and tree.this.args["db"].name == "lake"
    props = {
        p.name: p.args["value"].sql("trino")
        for p in tree.find_all(exp.Property)
        if type(p) is exp.Property
    }
    assert props == {"external_location": "'s3://lake/marts/daily/'"}
    assert tree.find(exp.FileFormatProperty).this.this == "PARQUET"
    assert tree.find(exp.PartitionedByProperty).this.sql("trino") == "ARRAY['dt']"
    assert output["table"] == "lake.daily" and len(output["queries"]) == 2


def test_rows_can_go_to_s3(athena: Any, run) -> None:
    import boto3

    athena.seed_results([("job", "varchar"), ("n", "bigint")], [["analyst", 3], ["engineer", 5]])
    query = {
        "task": "run_query",
        "args": {"sql": "SELECT job, n FROM t", "output": "s3://results/reports/jobs.csv"},
    }
    (output,) = succeeded(run(athena.routine(query)))
    body = boto3.client("s3").get_object(Bucket="results", Key="reports/jobs.csv")["Body"]
    assert body.read().decode().splitlines() == ["job,n", "analyst,3", "engineer,5"]
    assert output["rows"] == 2 and output["output"] == "s3://results/reports/jobs.csv"


def test_show_statements_have_rows_too(athena: Any, run, tmp_path) -> None:
    """Athena calls SHOW and DESCRIBE DDL, yet they answer rows (without a header row)."""
    athena.seed_results([("tab_name", "string")], [["daily"], ["sales"]], header=False)
    path = tmp_path / "routine.json"
    query = {"task": "run_query", "args": {"sql": "SHOW TABLES IN lake", "output": "t.csv"}}
    path.write_text(json.dumps(athena.routine(query)))
    (output,) = succeeded(run(path))
    assert (tmp_path / "t.csv").read_text().splitlines() == ["tab_name", "daily", "sales"]
    assert output["rows"] == 2 and output["estimated_cost_usd"] == 0.0
