"""AthenaExecutor tasks over moto's server tell their lineage with lakeroutine-openlineage
installed: the table by its catalog name (``awsathena://athena.REGION.amazonaws.com``,
``AwsDataCatalog.db.table``), its schema, a symlink to its S3 location named as staging
names that folder, and the SQL facet."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "openlineage" / "tests"))
from lr_openlineage_helpers import file_transport, valid_events

TABLE = {
    "name": "sales",
    "columns": {"name": "string", "amount": "double"},
    "partitioned_by": {"dt": "date"},
    "format": "parquet",
    "location": "s3://lake/staging/sales/",
}


def test_athena_tasks_emit_catalog_tables(athena: Any, run, tmp_path, monkeypatch) -> None:
    events_file = file_transport(tmp_path, monkeypatch)
    ctas = {
        "task": "ctas",
        "args": {
            "table": "sales_by_day",
            "sql": "SELECT dt, sum(amount) AS amount FROM lake.sales GROUP BY dt",
            "location": "s3://lake/marts/sales_by_day/",
        },
    }
    result = run(athena.routine({"task": "create_table", "args": {"table": TABLE}}, ctas))
    assert result.status == "succeeded", [t.error for t in result.tasks]
    events = valid_events(events_file)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"] * 2
    create, made = events[1], events[3]

    [table] = create["outputs"]
    namespace = "awsathena://athena.us-east-1.amazonaws.com"  # the emulator's region
    assert table["namespace"] == namespace
    assert table["name"] == "AwsDataCatalog.lake.sales"
    assert [(f["name"], f["type"]) for f in table["facets"]["schema"]["fields"]] == [
        ("name", "string"),
        ("amount", "double"),
        ("dt", "date"),
    ]
    [link] = table["facets"]["symlinks"]["identifiers"]
    assert (link["namespace"], link["name"], link["type"]) == (
        "s3://lake",
        "staging/sales",
        "LOCATION",
    )
    assert create["job"]["facets"]["sql"]["query"] == athena.queries[0]
    assert create["job"]["facets"]["sql"]["dialect"] == "athena"

    [mart] = made["outputs"]
    assert (mart["namespace"], mart["name"]) == (namespace, "AwsDataCatalog.lake.sales_by_day")
    assert mart["facets"]["symlinks"]["identifiers"][0]["name"] == "marts/sales_by_day"
    assert "FROM lake.sales GROUP BY dt" in made["job"]["facets"]["sql"]["query"]


def lineage_events(tmp_path, monkeypatch) -> Any:
    """A reader of this test's events (file transport), each checked against the schemas."""
    events_file = file_transport(tmp_path, monkeypatch)
    return lambda: valid_events(events_file)


def test_athena_queries_declare_the_tables_they_read(athena: Any, run, tmp_path, monkeypatch):
    read = lineage_events(tmp_path, monkeypatch)
    query = (
        "WITH recent AS (SELECT * FROM lake.sales WHERE dt > date '2024-01-01')\n"
        "SELECT r.name, c.region, g.label FROM recent r\n"
        "JOIN AwsDataCatalog.CRM.customers c ON r.name = c.name\n"
        "JOIN regions g ON g.region = c.region\n"
        "WHERE r.name IN (SELECT name FROM lake.sales WHERE amount > 10)"
    )
    ctas = {
        "task": "ctas",
        "args": {
            "table": "sales_by_day",
            "sql": "SELECT dt, sum(amount) AS amount FROM sales GROUP BY dt",
            "location": "s3://lake/marts/sales_by_day/",
        },
    }
    result = run(athena.routine({"task": "run_query", "args": {"sql": query}}, ctas))
    assert result.status == "succeeded", [t.error for t in result.tasks]
    events = read()
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"] * 2
    namespace = "awsathena://athena.us-east-1.amazonaws.com"
    inputs = [(i["namespace"], i["name"]) for i in events[1]["inputs"]]
    # the CTE is no table; lake.sales read twice is one input; unqualified means the
    # params' database; identifiers fold to lower case as Athena folds them
    assert sorted(inputs) == [
        (namespace, "AwsDataCatalog.crm.customers"),
        (namespace, "AwsDataCatalog.lake.regions"),
        (namespace, "AwsDataCatalog.lake.sales"),
    ]
    made = events[3]
    assert [(i["namespace"], i["name"]) for i in made["inputs"]] == [
        (namespace, "AwsDataCatalog.lake.sales")
    ]
    assert [o["name"] for o in made["outputs"]] == ["AwsDataCatalog.lake.sales_by_day"]
