"""One table spec and one query through both executors: DuckDB gives the real answer,
Athena (moto's server) receives the calls and the DDL. The routine's tasks are the same
object; only the executor name, its params and the lake root variable change."""

from __future__ import annotations

import csv
import json
import urllib.request
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

TASKS = [
    {
        "task": "create_table",
        "args": {
            "table": {
                "name": "sales",
                "columns": {"name": "string", "amount": "double", "qty": "int"},
                "partitioned_by": {"dt": "date"},
                "format": "parquet",
                "location": "${lake}/sales/",
            }
        },
    },
    {
        "task": "run_query",
        "args": {
            "sql": "SELECT name, sum(amount * qty) AS revenue FROM sales"
            " WHERE dt >= DATE '2024-01-02' GROUP BY name ORDER BY name",
            "output": "out/revenue.csv",
        },
    },
]


def twin(executor: str, params: dict[str, Any], lake: str) -> dict[str, Any]:
    return {
        "routine_name": "twin",
        "vars": {"lake": lake},
        "executors": {"tables": {"executor": executor, "params": params, "tasks": TASKS}},
    }


def write(tmp_path: Path, routine: dict[str, Any], name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "routine.json"
    path.write_text(json.dumps(routine))
    return path


def test_same_spec_and_query_on_duckdb_and_athena(tmp_path: Path, run, moto_endpoint) -> None:
    import boto3
    from moto.athena.models import athena_backends

    lake = tmp_path / "lake"
    con = duckdb.connect()
    for dt, rows in {
        "2024-01-01": [("ana", 1.0, 1)],
        "2024-01-02": [("ana", 2.5, 2), ("bob", 4.0, 3)],
    }.items():
        (lake / "sales" / f"dt={dt}").mkdir(parents=True)
        for number, row in enumerate(rows):
            target = lake / "sales" / f"dt={dt}" / f"{number}.parquet"
            con.execute(f"COPY (SELECT ? AS name, ? AS amount, ? AS qty) TO '{target}'", row)

    local = write(tmp_path, twin("DuckDBExecutor", {"database": "lake.duckdb"}, str(lake)), "local")
    duck = run(local)
    assert duck.status == "succeeded", [t.error for t in duck.tasks]
    with (local.parent / "out" / "revenue.csv").open() as handle:
        answer = list(csv.reader(handle))
    assert answer == [["name", "revenue"], ["ana", "5.0"], ["bob", "12.0"]]

    boto3.client("s3").create_bucket(Bucket="results")
    athena_params = {
        "database": "lake",
        "output_location": "s3://results/q/",
        "poll_interval_s": 0.01,
    }
    cloud = write(tmp_path, twin("AthenaExecutor", athena_params, "s3://lake"), "cloud")
    body = {
        "results": [
            {  # moto runs no SQL: it answers what DuckDB computed
                "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in answer],
                "column_info": [
                    {"Name": "name", "Type": "varchar"},
                    {"Name": "revenue", "Type": "double"},
                ],
            }
        ]
    }
    # the create_table query takes no result; seed one empty entry for it first
    body["results"].insert(0, {"rows": [], "column_info": []})
    request = urllib.request.Request(
        f"{moto_endpoint}/moto-api/static/athena/query-results",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()
    athena = run(cloud)
    assert athena.status == "succeeded", [t.error for t in athena.tasks]

    ddl, query = (e.query for e in athena_backends["123456789012"]["us-east-1"].executions.values())
    tree = sqlglot.parse_one(ddl, dialect="athena")
    columns = {c.name: c.args["kind"].sql("hive") for c in tree.this.expressions}
    assert columns == {"name": "STRING", "amount": "DOUBLE", "qty": "INT"}
    partitions = tree.find(exp.PartitionedByProperty).this.expressions
    assert [(c.name, c.args["kind"].sql("hive")) for c in partitions] == [("dt", "DATE")]
    assert tree.find(exp.LocationProperty).this.this == "s3://lake/sales/"
    assert query == TASKS[1]["args"]["sql"]
    with (cloud.parent / "out" / "revenue.csv").open() as handle:
        assert list(csv.reader(handle)) == answer
    assert athena.tasks[1].output["rows"] == duck.tasks[1].output["rows"] == 2
