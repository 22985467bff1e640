"""DuckDBExecutor for real: tables over local Parquet/CSV/JSON with hive-style partition
folders, queries with parameters and output files, CTAS, and bad input refused."""

from __future__ import annotations

import csv
import json
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from lakeroutine.errors import RoutineError

SALES = [
    ("2024-01-01", "eu", "ana", 10.5, 3),
    ("2024-01-01", "us", "bob", 2.25, 1),
    ("2024-01-02", "eu", "ana", 7.0, 2),
    ("2024-01-02", "eu", "carla", 1.0, 10),
]
TABLE = {
    "name": "sales",
    "columns": {"name": "string", "amount": "decimal(10,2)", "qty": "int"},
    "partitioned_by": {"dt": "date", "region": "string"},
    "location": "lake/sales/",
}


def write_sales(root: Path, rows: list[tuple] = SALES, fmt: str = "parquet") -> None:
    """Hive-style partition folders (dt=/region=) of the given rows, one file each."""
    con = duckdb.connect()
    for dt, region, name, amount, qty in rows:
        folder = root / f"dt={dt}" / f"region={region}"
        folder.mkdir(parents=True, exist_ok=True)
        number = len(list(folder.iterdir()))
        target = str(folder / f"part-{number}.{fmt}").replace("'", "''")
        options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
        con.execute(
            f"COPY (SELECT ? AS name, ? AS amount, ? AS qty) TO '{target}' ({options})",
            [name, amount, qty],
        )
    con.close()


def routine(tmp: Path, *tasks: Any, **params: Any) -> Path:
    spec = {
        "routine_name": "duck",
        "executors": {
            "DuckDBExecutor": {
                "params": {"database": "db/lake.duckdb", **params},
                "tasks": list(tasks),
            }
        },
    }
    path = tmp / "routine.json"
    path.write_text(json.dumps(spec))
    return path


def outputs(result: Any) -> list[Any]:
    assert result.status == "succeeded", [t.error for t in result.tasks]
    return [t.output for t in result.tasks]


def test_table_over_partitioned_parquet_and_a_query_to_csv(tmp_path: Path, run) -> None:
    write_sales(tmp_path / "lake" / "sales")
    query = {
        "task": "run_query",
        "args": {
            "sql": "SELECT dt, region, sum(amount * qty) AS revenue FROM sales"
            " WHERE qty >= ? GROUP BY ALL ORDER BY dt, region",
            "parameters": [2],
            "output": "out/revenue.csv",
        },
    }
    path = routine(tmp_path, {"task": "create_table", "args": {"table": TABLE}}, query)
    created, answered = outputs(run(path))
    assert created == {
        "table": "main.sales",
        "location": str(tmp_path / "lake" / "sales") + "/",
        "action": "created",
        "rows": 4,
    }
    with (tmp_path / "out" / "revenue.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["dt", "region", "revenue"],
        ["2024-01-01", "eu", "31.50"],
        ["2024-01-02", "eu", "24.00"],
    ]
    assert answered["rows"] == 2 and answered["columns"] == ["dt", "region", "revenue"]
    assert answered["preview"][0] == ["2024-01-01", "eu", 31.5]  # read back from the CSV
    con = duckdb.connect(str(tmp_path / "db" / "lake.duckdb"), read_only=True)
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'sales'"
        ).fetchall()
    )
    con.close()
    assert types == {
        "name": "VARCHAR",
        "amount": "DECIMAL(10,2)",
        "qty": "INTEGER",
        "dt": "DATE",
        "region": "VARCHAR",
    }


def test_sql_file_ending_in_a_comment_to_parquet(tmp_path: Path, run) -> None:
    write_sales(tmp_path / "lake" / "sales")
    (tmp_path / "q.sql").write_text(
        "SELECT name, sum(qty) AS qty FROM ${table} GROUP BY name ORDER BY name -- by name\n"
    )
    create = {"task": "create_table", "args": {"table": TABLE}}
    query = {
        "task": "run_query",
        "args": {"sql_file": "q.sql", "vars": {"table": "sales"}, "output": "q.parquet"},
    }
    _, answered = outputs(run(routine(tmp_path, create, query)))
    rows = duckdb.connect().execute(f"SELECT * FROM '{tmp_path / 'q.parquet'}'").fetchall()
    assert rows == [("ana", 5), ("bob", 1), ("carla", 10)]
    assert answered["rows"] == 3


def test_nested_types_over_parquet(tmp_path: Path, run) -> None:
    (tmp_path / "nested").mkdir()
    duckdb.connect().execute(
        "COPY (SELECT [1, 2] AS tags, map(['a'], [3]) AS m, {'date': '2024-01-02', 'n': 5} AS s)"
        f" TO '{tmp_path / 'nested' / 'x.parquet'}' (FORMAT parquet)"
    )
    table = {
        "name": "nested",
        "columns": {
            "tags": "array<bigint>",
            "m": "map<string,int>",
            "s": "struct<date:date,n:int>",
        },
        "location": "nested",
    }
    query = {
        "task": "run_query",
        "args": {"sql": "SELECT tags, m, s, s.date + 1 AS next FROM nested"},
    }
    _, rows = outputs(
        run(routine(tmp_path, {"task": "create_table", "args": {"table": table}}, query))
    )
    assert rows["preview"] == [[[1, 2], {"a": 3}, {"date": "2024-01-02", "n": 5}, "2024-01-03"]]


def test_the_table_sees_files_added_later(tmp_path: Path, run) -> None:
    write_sales(tmp_path / "lake" / "sales", SALES[:1])
    create = {"task": "create_table", "args": {"table": TABLE}}
    count = {"task": "run_query", "args": {"sql": "SELECT count(*) AS n FROM sales"}}
    assert outputs(run(routine(tmp_path, create, count)))[1]["preview"] == [[1]]
    write_sales(tmp_path / "lake" / "sales", SALES[1:])
    again = outputs(run(routine(tmp_path, create, count)))
    assert again[0]["action"] == "kept" and again[1]["preview"] == [[4]]


def test_if_exists_fail_and_replace(tmp_path: Path, run) -> None:
    write_sales(tmp_path / "lake" / "sales")
    create = {"task": "create_table", "args": {"table": TABLE}}
    outputs(run(routine(tmp_path, create)))
    failed = run(routine(tmp_path, {**create, "args": {"table": TABLE, "if_exists": "fail"}}))
    assert failed.status == "failed" and "already exists" in failed.tasks[0].error
    narrower = {**TABLE, "columns": {"name": "string"}, "partitioned_by": {}}
    replace = {"task": "create_table", "args": {"table": narrower, "if_exists": "replace"}}
    query = {"task": "run_query", "args": {"sql": "SELECT * FROM sales LIMIT 1"}}
    replaced, rows = outputs(run(routine(tmp_path, replace, query)))
    assert replaced["action"] == "replaced" and rows["columns"] == ["name"]


def test_csv_table_with_delimiter_header_and_quote(tmp_path: Path, run) -> None:
    folder = tmp_path / "raw" / "dt=2024-01-01"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text('# exported\nname;amount\n"ana; the first";1.5\nbob;2\n')
    table = {
        "name": "raw",
        "columns": {"name": "string", "amount": "double"},
        "partitioned_by": {"dt": "string"},
        "format": "csv",
        "delimiter": ";",
        "header_lines": 2,
        "quote": '"',
        "location": "raw",
    }
    query = {"task": "run_query", "args": {"sql": "SELECT * FROM raw ORDER BY name"}}
    _, rows = outputs(
        run(routine(tmp_path, {"task": "create_table", "args": {"table": table}}, query))
    )
    assert rows["preview"] == [["ana; the first", 1.5, "2024-01-01"], ["bob", 2.0, "2024-01-01"]]


def test_json_table_and_json_outputs(tmp_path: Path, run) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "e.json").write_text('{"kind": "click", "n": 2}\n{"kind": "view", "n": 5}\n')
    table = {
        "name": "events",
        "columns": {"kind": "string", "n": "bigint"},
        "format": "json",
        "location": "events/",
    }
    as_array = {
        "task": "run_query",
        "args": {"sql": "SELECT * FROM events ORDER BY n", "output": "out/e.json"},
    }
    as_lines = {
        "task": "run_query",
        "args": {"sql": "SELECT * FROM events ORDER BY n", "output": "out/e.jsonl"},
    }
    create = {"task": "create_table", "args": {"table": table}}
    outputs(run(routine(tmp_path, create, as_array, as_lines)))
    expected = [{"kind": "click", "n": 2}, {"kind": "view", "n": 5}]
    assert json.loads((tmp_path / "out" / "e.json").read_text()) == expected
    lines = (tmp_path / "out" / "e.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == expected


def test_ctas_partitions_repair_add_partitions_and_drop(tmp_path: Path, run) -> None:
    write_sales(tmp_path / "lake" / "sales")
    tasks = [
        {"task": "create_table", "args": {"table": TABLE}},
        {
            "task": "ctas",
            "args": {
                "table": "by_name",
                "sql": "SELECT name, sum(amount) AS total, region FROM sales GROUP BY name, region",
                "location": "marts/by_name",
                "partitioned_by": ["region"],
            },
        },
        {"task": "repair_table", "args": {"table": "by_name"}},
        {
            "task": "add_partitions",
            "args": {
                "table": "sales",
                "location": "lake/sales",
                "partitions": [{"values": {"dt": "2024-01-01", "region": "eu"}}],
            },
        },
        {
            "task": "run_query",
            "args": {
                "sql": "SELECT name, total FROM by_name WHERE region = ? ORDER BY name",
                "parameters": ["eu"],
            },
        },
        {"task": "drop_table", "args": {"table": "by_name"}},
    ]
    _, ctas, repair, added, query, dropped = outputs(run(routine(tmp_path, *tasks)))
    assert ctas["rows"] == 3 and repair["rows"] == 3 and added["partitions"] == 1
    assert sorted(p.name for p in (tmp_path / "marts" / "by_name").iterdir()) == [
        "region=eu",
        "region=us",
    ]
    assert query["preview"] == [["ana", "17.50"], ["carla", "1.00"]]
    assert dropped["dropped"] is True
    again = run(routine(tmp_path, tasks[1]))  # Athena too refuses a non-empty location
    assert again.status == "failed" and "is not empty" in again.tasks[0].error
    missing = {
        "task": "add_partitions",
        "args": {
            "table": "sales",
            "location": "lake/sales",
            "partitions": [{"values": {"dt": "2030-01-01", "region": "eu"}}],
        },
    }
    result = run(routine(tmp_path, missing))
    assert result.status == "failed" and "dt=2030-01-01/region=eu/" in result.tasks[0].error


def test_hostile_names_and_values_stay_data(tmp_path: Path, run) -> None:
    write_sales(tmp_path / "it's here", SALES[:1])
    table = {**TABLE, "location": "it's here"}
    query = {
        "task": "run_query",
        "args": {
            "sql": "SELECT count(*) AS n FROM sales WHERE name = ?",
            "parameters": ["ana' OR '1'='1"],
        },
    }
    created, counted = outputs(
        run(routine(tmp_path, {"task": "create_table", "args": {"table": table}}, query))
    )
    assert created["rows"] == 1 and counted["preview"] == [[0]]


def test_a_timed_out_query_is_interrupted(tmp_path: Path, run) -> None:
    slow = {
        "task": "run_query",
        "timeout_s": 0.3,
        "args": {"sql": "SELECT count(*) FROM range(3000000000) a WHERE a.range % 7 = 3"},
    }
    started = time.monotonic()
    result = run(routine(tmp_path, slow))
    assert result.status == "failed" and "did not finish within 0.3 s" in result.tasks[0].error
    # the task's thread ends as soon as DuckDB stops the query (about 12 s if it ran on)
    workers = [t for t in threading.enumerate() if t.name.startswith("task-run_query")]
    for worker in workers:
        worker.join(timeout=10)
    assert not any(worker.is_alive() for worker in workers)
    assert time.monotonic() - started < 8


@pytest.mark.parametrize(
    ("task", "field", "message"),
    [
        (
            {"task": "create_table", "args": {"table": {**TABLE, "location": "s3://lake/sales/"}}},
            "args.table.location",
            "must be a local folder",
        ),
        (
            {"task": "create_table", "args": {"table": {**TABLE, "format": "orc"}}},
            "args.table.format",
            "cannot read ORC",
        ),
        (
            {"task": "create_table", "args": {"table": {**TABLE, "columns": {"x": "varchar2"}}}},
            "args.table.columns.x",
            "unknown column type",
        ),
        (
            {"task": "create_table", "args": {"table": {**TABLE, "name": "1st"}}},
            "args.table.name",
            "unsafe name",
        ),
        ({"task": "run_query", "args": {"sql": "/* nothing */"}}, "args.sql", "SQL is empty"),
        (
            {"task": "run_query", "args": {"sql": "SELECT 1", "output": "s3://b/x.csv"}},
            "args.output",
            "local path",
        ),
        (
            {"task": "ctas", "args": {"table": "t", "sql": "SELECT 1", "location": "s3://b/t/"}},
            "args.location",
            "must be a local folder",
        ),
    ],
)
def test_bad_input_is_refused_and_nothing_is_created(
    tmp_path: Path, run, task: dict, field: str, message: str
) -> None:
    with pytest.raises(RoutineError) as info:
        run(routine(tmp_path, task))
    assert info.value.field == field and message in info.value.message, str(info.value)
    assert not (tmp_path / "db").exists()


def test_database_must_be_a_duckdb_file(tmp_path: Path, run) -> None:
    with pytest.raises(RoutineError) as info:
        run(routine(tmp_path, {"task": "create_database"}, database="lake.sqlite"))
    assert info.value.field == "params.database" and ".duckdb" in info.value.message


def test_schema_param_is_athenas_database(tmp_path: Path, run) -> None:
    write_sales(tmp_path / "lake" / "sales")
    tasks = [
        "create_database",
        {"task": "create_table", "args": {"table": TABLE}},
        {"task": "run_query", "args": {"sql": "SELECT count(*) FROM sales"}},
    ]
    db, table, query = outputs(run(routine(tmp_path, *tasks, schema="lake")))
    assert db["database"] == "lake" and table["table"] == "lake.sales"
    assert query["preview"] == [[4]]


def test_ctrl_c_during_a_query_cancels_the_run(tmp_path: Path, run) -> None:
    """DuckDB catches the signal itself and stops the query: the task is cancelled (not a
    failure to retry) and the next task never starts."""
    import os
    import signal

    slow = {
        "task": "run_query",
        "retries": 2,
        "args": {"sql": "SELECT count(*) FROM range(3000000000) a WHERE a.range % 7 = 3"},
    }
    after = {"task": "run_query", "args": {"sql": "SELECT 1"}}
    path = routine(tmp_path, slow, after)

    def interrupt_once_the_query_runs() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any(t.name.startswith("duckdb-query") for t in threading.enumerate()):
                time.sleep(0.2)  # the slow query, not the connection's set-up statements
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.005)

    started = time.monotonic()
    threading.Thread(target=interrupt_once_the_query_runs, daemon=True).start()
    result = run(path)
    assert time.monotonic() - started < 8  # the query (about 12 s) was stopped at once
    assert result.status != "succeeded"
    statuses = [(t.status, t.attempts) for t in result.tasks]
    assert statuses == [("cancelled", 1), ("skipped", 0)], [t.error for t in result.tasks]


def test_add_partitions_without_a_location_checks_the_tables_folders(tmp_path, run) -> None:
    """As on Athena, a partition with no location of its own is in the table's folder."""
    write_sales(tmp_path / "lake" / "sales")
    create = {"task": "create_table", "args": {"table": TABLE}}

    def add(dt: str) -> dict[str, Any]:
        partition = {"values": {"dt": dt, "region": "eu"}}
        return {"task": "add_partitions", "args": {"table": "sales", "partitions": [partition]}}

    _, added = outputs(run(routine(tmp_path, create, add("2024-01-02"))))
    assert added == {"table": "main.sales", "partitions": 1}
    result = run(routine(tmp_path, add("2030-01-01")))
    assert result.status == "failed"
    missing = tmp_path / "lake" / "sales" / "dt=2030-01-01" / "region=eu"
    assert result.tasks[0].error == f"partition folders without files: {missing}/"


def test_partitions_with_differing_keys_are_refused(tmp_path: Path, run) -> None:
    partitions = [{"values": {"dt": "2024-01-01"}}, {"values": {"region": "eu"}}]
    task = {"task": "add_partitions", "args": {"table": "sales", "partitions": partitions}}
    with pytest.raises(RoutineError) as info:
        run(routine(tmp_path, task))
    assert info.value.field == "args.partitions"
    assert "partition 1 has keys ['region'], the first has ['dt']" in info.value.message


def test_csv_without_a_quote_character_keeps_quotes_as_athena_does(tmp_path, run) -> None:
    """Athena reads a CSV table without ``quote`` with LazySimpleSerDe, which does not
    unquote: DuckDB gives the same answer rather than a friendlier, different one."""
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.csv").write_text('"ana",1\nbob,2\n')
    table = {
        "name": "raw",
        "columns": {"name": "string", "n": "int"},
        "format": "csv",
        "location": "raw",
    }
    query = {"task": "run_query", "args": {"sql": "SELECT name FROM raw ORDER BY n"}}
    _, rows = outputs(
        run(routine(tmp_path, {"task": "create_table", "args": {"table": table}}, query))
    )
    assert rows["preview"] == [['"ana"'], ["bob"]]
