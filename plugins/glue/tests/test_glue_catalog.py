"""GlueExecutor catalog tasks against moto: databases, tables of the shared spec (SerDe and
formats per file format), and partitions in batches of at most 100."""

from __future__ import annotations

from typing import Any

import pytest
from lakeroutine.errors import RoutineError

SALES = {
    "name": "sales",
    "columns": {"id": "bigint", "amount": "decimal(12,2)", "tags": "array<string>"},
    "partitioned_by": {"dt": "date", "region": "string"},
    "location": "s3://lake/staging/sales/",
}


def _table(**spec: Any) -> dict[str, Any]:
    return {"task": "create_table", "args": {"table": {**SALES, **spec}}}


def test_create_database_and_parquet_table(
    run: Any, glue: Any, glue_client: Any, glue_routine: Any
) -> None:
    result = run(
        glue_routine(
            [
                {"task": "create_database", "args": {"description": "the lake"}},
                "create_database",  # exists: skipped, not an error
                _table(properties={"owner": "data-eng"}),
            ]
        )
    )
    assert result.status == "succeeded", [t.error for t in result.tasks]
    assert [t.output["action"] for t in result.tasks] == ["created", "skipped", "created"]
    assert glue_client.get_database(Name="lake")["Database"]["Description"] == "the lake"
    table = glue_client.get_table(DatabaseName="lake", Name="sales")["Table"]
    storage = table["StorageDescriptor"]
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert storage["Location"] == "s3://lake/staging/sales/"
    assert storage["Columns"] == [
        {"Name": "id", "Type": "bigint"},
        {"Name": "amount", "Type": "decimal(12,2)"},
        {"Name": "tags", "Type": "array<string>"},
    ]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt", "region"]
    assert storage["InputFormat"].endswith("MapredParquetInputFormat")
    assert storage["OutputFormat"].endswith("MapredParquetOutputFormat")
    assert storage["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert table["Parameters"]["classification"] == "parquet"
    assert table["Parameters"]["owner"] == "data-eng"
    assert result.tasks[2].output["table"] == "lake.sales"


@pytest.mark.parametrize(
    ("spec", "serde", "serde_params", "table_params"),
    [
        (
            {"format": "csv", "delimiter": "|", "header_lines": 1},
            "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            {"field.delim": "|", "serialization.format": "|"},
            {"skip.header.line.count": "1", "classification": "csv"},
        ),
        (
            {"format": "csv", "quote": '"'},
            "org.apache.hadoop.hive.serde2.OpenCSVSerde",
            {"separatorChar": ",", "quoteChar": '"'},
            {"classification": "csv"},
        ),
        ({"format": "json"}, "org.openx.data.jsonserde.JsonSerDe", {}, {"classification": "json"}),
        (
            {"format": "orc"},
            "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
            {"serialization.format": "1"},
            {"classification": "orc"},
        ),
    ],
)
def test_each_format_gets_its_serde(
    run: Any,
    glue: Any,
    glue_client: Any,
    glue_routine: Any,
    spec: dict,
    serde: str,
    serde_params: dict,
    table_params: dict,
) -> None:
    result = run(glue_routine(["create_database", _table(partitioned_by={}, **spec)]))
    assert result.status == "succeeded", [t.error for t in result.tasks]
    table = glue_client.get_table(DatabaseName="lake", Name="sales")["Table"]
    info = table["StorageDescriptor"]["SerdeInfo"]
    assert info["SerializationLibrary"] == serde
    assert info["Parameters"] == serde_params
    assert table_params.items() <= table["Parameters"].items()
    assert table["PartitionKeys"] == []


def test_existing_table_is_skipped_updated_or_refused(
    run: Any, glue: Any, glue_client: Any, glue_routine: Any
) -> None:
    assert run(glue_routine(["create_database", _table()])).status == "succeeded"
    wider = {**SALES["columns"], "note": "string"}
    same = run(glue_routine([_table()]))
    assert (same.tasks[0].output["action"], same.tasks[0].output["changed"]) == ("skipped", [])
    kept = run(glue_routine([_table(columns=wider)]))
    assert kept.tasks[0].output["action"] == "skipped"
    assert kept.tasks[0].output["changed"] == ["Columns"]  # said, not done
    columns = glue_client.get_table(DatabaseName="lake", Name="sales")["Table"]
    assert len(columns["StorageDescriptor"]["Columns"]) == 3

    refused = run(
        glue_routine(
            [
                {
                    **_table(columns=wider),
                    "args": {"table": {**SALES, "columns": wider}, "if_exists": "fail"},
                }
            ]
        )
    )
    assert refused.status == "failed"
    assert "Glue table 'lake.sales' already exists" in refused.tasks[0].error

    updated = run(
        glue_routine(
            [
                {
                    "task": "create_table",
                    "args": {"table": {**SALES, "columns": wider}, "if_exists": "update"},
                }
            ]
        )
    )
    assert updated.tasks[0].output["action"] == "updated"
    assert updated.tasks[0].output["changed"] == ["Columns"]
    table = glue_client.get_table(DatabaseName="lake", Name="sales")["Table"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]][-1] == "note"


def test_add_partitions_in_batches_of_at_most_100(
    run: Any, glue: Any, glue_client: Any, glue_routine: Any
) -> None:
    partitions = [
        {"values": {"region": region, "dt": f"2026-01-{day:02d}"}}
        for region in ("eu", "us", "ap", "sa", "af", "me", "oc", "an", "na")
        for day in range(1, 29)
    ]  # 252 partitions, values given out of key order
    partitions.append(
        {"values": {"dt": "2026-02-01", "region": "eu"}, "location": "s3://lake/moved/feb/"}
    )
    task = {"task": "add_partitions", "args": {"table": "sales", "partitions": partitions}}
    result = run(glue_routine(["create_database", _table(), task]))
    assert result.status == "succeeded", [t.error for t in result.tasks]
    assert result.tasks[2].output == {
        "table": "lake.sales",
        "added": 253,
        "already_existed": 0,
        "batches": 3,
    }
    assert glue.partition_batches == [100, 100, 53]
    pages = glue_client.get_paginator("get_partitions").paginate(
        DatabaseName="lake", TableName="sales"
    )
    found = {
        tuple(p["Values"]): p["StorageDescriptor"]["Location"]
        for page in pages
        for p in page["Partitions"]
    }
    assert len(found) == 253
    assert found[("2026-01-05", "us")] == "s3://lake/staging/sales/dt=2026-01-05/region=us/"
    assert found[("2026-02-01", "eu")] == "s3://lake/moved/feb/"

    again = run(glue_routine([task]))
    assert again.tasks[0].output["added"] == 0
    assert again.tasks[0].output["already_existed"] == 253


def test_partitions_must_match_the_table_keys(run: Any, glue: Any, glue_routine: Any) -> None:
    task = {
        "task": "add_partitions",
        "args": {"table": "sales", "partitions": [{"values": {"dt": "2026-01-01"}}]},
    }
    result = run(glue_routine(["create_database", _table(), task]))
    assert result.tasks[2].status == "failed"
    assert "must give exactly: dt, region" in result.tasks[2].error
    assert glue.partition_batches == []


def test_a_table_in_a_missing_database_fails_naming_it(
    run: Any, glue: Any, glue_routine: Any
) -> None:
    result = run(glue_routine([_table(), "create_database"]))
    assert result.tasks[0].error == "Glue database 'lake' does not exist"
    assert result.tasks[1].status == "skipped"


def test_missing_table_fails_naming_it(run: Any, glue: Any, glue_routine: Any) -> None:
    task = {
        "task": "add_partitions",
        "args": {"table": "nope", "partitions": [{"values": {"dt": "2026-01-01"}}]},
    }
    result = run(glue_routine(["create_database", task]))
    assert result.tasks[1].error == "table lake.nope does not exist"


@pytest.mark.parametrize(
    ("params", "tasks", "field", "message"),
    [
        ({"database": None}, ["create_database"], "params.database", "need a catalog database"),
        ({"database": "bad-name"}, [], "params.database", "unsafe"),
        ({}, [_table(location="/local/folder")], "args.table.location", "must be an s3:// URL"),
        ({}, [_table(location="s3:///sales/")], "args.table.location", "no bucket name"),
        ({}, [_table(name="x; drop")], "args.table.name", "unsafe"),
        (
            {},
            [
                {
                    "task": "add_partitions",
                    "args": {
                        "table": "t",
                        "partitions": [{"values": {"dt": "1"}, "location": "s3://"}],
                    },
                }
            ],
            "args.partitions[0].location",
            "no bucket name",
        ),
    ],
)
def test_bad_catalog_input_is_refused_before_anything_is_sent(
    run: Any, glue: Any, glue_routine: Any, params: dict, tasks: list, field: str, message: str
) -> None:
    with pytest.raises(RoutineError) as caught:
        run(glue_routine(tasks, **params))
    problems = caught.value.problems or [caught.value]
    assert any(p.field == field and message in p.message for p in problems), str(caught.value)
    assert glue.backend.databases == {}
