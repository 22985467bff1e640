"""Points 4 and 6 on Athena: the SQL each Iceberg task sends to moto's Athena parses in
Athena's dialect; writes over 250 partitions go in batches below 100; ICEBERG_COMMIT_ERROR
is retried; VACUUM is repeated until done; the DuckDB twin runs the same INSERT and MERGE
text unchanged and gets the rows the task means."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from iceberg_support import SPEC, stage

ATHENA = {
    "database": "sales",
    "output_location": "s3://results/athena/",
    "poll_interval_s": 0.01,
    "max_wait_s": 30,
}


def routine(executor: str, params: dict[str, Any], tasks: list[Any], name: str) -> dict:
    return {
        "routine_name": name,
        "executors": {"t": {"executor": executor, "params": params, "tasks": tasks}},
    }


def upload(tmp_path: Path, days: int) -> None:
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake")
    for day in range(days):
        when = dt.date(2024, 1, 1) + dt.timedelta(days=day)
        path = stage(tmp_path / "st", f"d{day}.parquet", range(day * 2, day * 2 + 2), day=1)
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        ts = pa.array([dt.datetime(when.year, when.month, when.day, 6)] * 2, pa.timestamp("us"))
        table = table.set_column(1, "ts", ts)
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        s3.put_object(Bucket="lake", Key=f"staged/d{day}.parquet", Body=buffer.getvalue())


def test_athena_tasks_send_valid_batched_retried_sql(
    tmp_path: Path, run, athena_driver, moto_endpoint
) -> None:
    import sqlglot
    from sqlglot import exp

    spec = {**SPEC, "location": "s3://lake/tables/events/"}
    glue = routine(
        "GlueExecutor",
        {"database": "sales", "endpoint_url": moto_endpoint},
        [{"task": "iceberg_create_table", "args": {"table": spec}}],
        "glue",
    )
    days = 250
    upload(tmp_path, days)
    made = run(glue)  # the table and its metadata, as Athena's DDL would leave them
    assert made.ok, made
    athena_driver.answer(
        "SELECT DISTINCT",
        ["p0"],
        [
            [(dt.date(2024, 1, 1) + dt.timedelta(days=d)).isoformat() + " 00:00:00.000"]
            for d in range(days)
        ],
    )

    def rule(query: str, nth: int) -> str | None:
        head = query.split(None, 1)[0].upper()
        if head == "INSERT" and nth == 2:
            return "ICEBERG_COMMIT_ERROR: Failed to commit Iceberg update to table"
        if head == "VACUUM" and nth <= 2:
            return "ICEBERG_VACUUM_MORE_RUNS_NEEDED: Removed 1000 files in this round"
        return None

    athena_driver.rule = rule
    tasks = [
        {"task": "iceberg_create_table", "args": {"table": spec}},
        {"task": "iceberg_append", "args": {"table": "events", "files": "s3://lake/staged/"}},
        {
            "task": "iceberg_merge",
            "args": {"table": "events", "keys": ["id"], "query": "SELECT * FROM sales.updates"},
        },
        {
            "task": "iceberg_evolve",
            "args": {
                "table": "events",
                "add_columns": {"note": "string"},
                "rename_columns": {"kind": "category"},
            },
        },
        {
            "task": "iceberg_maintain",
            "args": {"table": "events", "expire_older_than_days": 5, "retain_last": 2},
        },
        {
            "task": "iceberg_query",
            "args": {"sql": "SELECT count(*) FROM sales.events FOR VERSION AS OF 123456789"},
        },
    ]
    result = run(routine("AthenaExecutor", ATHENA, tasks, "athena"))
    assert result.ok, [t.error for t in result.tasks]

    queries = athena_driver.queries
    inserts = [q for q in queries if q.startswith("INSERT")]
    assert len(inserts) == 4  # 250 partitions in batches of 99: 3, and one commit retry
    assert inserts[1] == inserts[2]  # the batch that hit ICEBERG_COMMIT_ERROR ran again
    for insert in inserts:
        assert 1 <= insert.count(" OR ") + 1 <= 99
    vacuums = [q for q in queries if q.startswith("VACUUM")]
    assert len(vacuums) == 3
    assert result.tasks[4].output["vacuum_rounds"] == 3
    for query in queries:
        if re.match(r"(OPTIMIZE|VACUUM) ", query):
            assert re.fullmatch(r'(OPTIMIZE|VACUUM) "sales"\."events"( REWRITE .*)?', query)
            continue
        dialect = "athena"
        parsed = sqlglot.parse_one(query, read=dialect)
        assert not isinstance(parsed, exp.Command), query
    stage_ddl = [q for q in queries if q.startswith("CREATE EXTERNAL TABLE")]
    assert len(stage_ddl) == 1 and "s3://lake/staged/" in stage_ddl[0]
    assert any(q.startswith("DROP TABLE IF EXISTS `sales`.`lakeroutine_stage_") for q in queries)
    assert any("TBLPROPERTIES ('table_type'='ICEBERG'" in q for q in queries)
    assert any("CHANGE COLUMN `kind` `category` string" in q for q in queries)
    merge = next(q for q in queries if q.startswith("MERGE"))
    assert 'ON t."id" = s."id"' in merge


def test_the_twin_runs_athenas_insert_and_merge_text(tmp_path: Path) -> None:
    """The INSERT and MERGE Athena gets run unchanged on DuckDB and do what they mean."""
    import duckdb
    from lakeroutine.sql.iceberg import parse_transform
    from lakeroutine_iceberg import athena_sql as sql

    con = duckdb.connect()
    con.execute('CREATE SCHEMA "sales"')
    con.execute(
        'CREATE TABLE "sales"."events" (id BIGINT, ts TIMESTAMP, kind VARCHAR, amount DOUBLE)'
    )
    con.execute('CREATE TABLE "sales"."st" AS FROM "sales"."events" LIMIT 0')
    con.execute(
        'INSERT INTO "sales"."st" VALUES '
        "(1, TIMESTAMP '2024-01-01 06:00:00', 'a', 1.0),"
        "(2, TIMESTAMP '2024-01-02 06:00:00', 'b', 2.0),"
        "(3, TIMESTAMP '2024-01-03 06:00:00', 'c', 3.0)"
    )
    columns = ["id", "ts", "kind", "amount"]
    fields = [parse_transform("day(ts)")]
    expressions = sql.partition_expressions(fields, dict.fromkeys(columns, "timestamp"))
    values = [
        [str(r[0])]
        for r in con.execute(sql.distinct_partitions('"sales"."st"', expressions)).fetchall()
    ]
    assert len(values) == 3
    for batch in sql.batches(sorted(values), 2):
        where = sql.batch_predicate(expressions, batch)
        con.execute(sql.insert("events", "sales", columns, '"sales"."st"', where))
    assert con.execute('SELECT count(*) FROM "sales"."events"').fetchall() == [(3,)]
    con.execute("""UPDATE "sales"."st" SET amount = amount * 10""")
    con.execute("""INSERT INTO "sales"."st" VALUES (4, TIMESTAMP '2024-01-04 06:00:00', 'd', 4)""")
    con.execute(sql.merge("events", "sales", columns, ["id"], '"sales"."st"', None))
    got = con.execute('SELECT id, amount FROM "sales"."events" ORDER BY id').fetchall()
    assert got == [(1, 10.0), (2, 20.0), (3, 30.0), (4, 4.0)]
    con.execute('DELETE FROM "sales"."st" WHERE id = 4')
    con.execute(sql.delete_missing("events", "sales", ["id"], '"sales"."st"'))
    assert con.execute('SELECT count(*) FROM "sales"."events"').fetchall() == [(3,)]


def test_athena_refusals_exit_2_before_any_query(
    tmp_path: Path, run, athena_driver, moto_endpoint, capsys
) -> None:
    """Point 8 on Athena: an evolve that would lose data, or a merge on keys the table
    lacks, is refused from the table's metadata before Athena gets a single statement."""
    import json

    import boto3
    from lakeroutine.cli import main

    spec = {**SPEC, "location": "s3://lake/tables/events/"}
    boto3.client("s3").create_bucket(Bucket="lake")
    glue = routine(
        "GlueExecutor",
        {"database": "sales", "endpoint_url": moto_endpoint},
        [{"task": "iceberg_create_table", "args": {"table": spec}}],
        "glue",
    )
    assert run(glue).ok
    cases = [
        (
            {
                "task": "iceberg_evolve",
                "args": {
                    "table": "events",
                    "add_columns": {"note": "string"},
                    "widen_columns": {"amount": "int"},
                },
            },
            "args.widen_columns.amount",
        ),
        (
            {
                "task": "iceberg_merge",
                "args": {"table": "events", "keys": ["nope"], "files": "s3://lake/staged/"},
            },
            "args.keys",
        ),
    ]
    for task, field in cases:
        path = tmp_path / f"{task['task']}.json"
        path.write_text(json.dumps(routine("AthenaExecutor", ATHENA, [task], "athena")))
        capsys.readouterr()
        assert main(["run", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"task '{task['task']}', field '{field}'" in err, err
    assert athena_driver.queries == []
