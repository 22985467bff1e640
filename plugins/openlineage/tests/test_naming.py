"""Datasets named by the OpenLineage naming spec, the same name whatever alias, trailing
slash or executor: declared by a third-party executor through ``ctx.lineage`` and read back
from the emitted events."""

from __future__ import annotations

import pytest
from lakeroutine import run_routine
from lr_lineage_probe import probe_routine, registry
from lr_openlineage_helpers import read_events, validate_event

LOCATIONS = [
    ({"url": "s3://lake/landing/sales/"}, ("s3://lake", "landing/sales")),
    ({"url": "s3a://lake/landing/sales"}, ("s3://lake", "landing/sales")),
    ({"url": "s3://lake/"}, ("s3://lake", "/")),
    ({"url": "gs://lake/staging//sales/"}, ("gs://lake", "staging/sales")),
    (
        {"url": "az://container/staging/sales/", "service": "account1"},
        ("wasbs://container@account1.dfs.core.windows.net", "staging/sales"),
    ),
    (
        {"url": "abfss://container@account1.dfs.core.windows.net/staging/sales/"},
        ("abfss://container@account1.dfs.core.windows.net", "staging/sales"),
    ),
    (
        {"url": "sftp://etl@files.example:2222/out/sales/"},
        ("sftp://files.example:2222", "/out/sales"),
    ),
    ({"url": "sftp://files.example/out/sales"}, ("sftp://files.example:22", "/out/sales")),
    ({"url": "/data/lake/staging/"}, ("file", "/data/lake/staging")),
    ({"url": "file:///data/lake/staging"}, ("file", "/data/lake/staging")),
]

TABLES = [
    (
        {"system": "athena", "name": "lake.sales", "region": "eu-west-1"},
        ("awsathena://athena.eu-west-1.amazonaws.com", "AwsDataCatalog.lake.sales"),
    ),
    (  # a Glue catalog table is the table Athena queries: one name
        {"system": "glue", "name": "lake.sales", "region": "eu-west-1"},
        ("awsathena://athena.eu-west-1.amazonaws.com", "AwsDataCatalog.lake.sales"),
    ),
    (
        {"system": "redshift", "name": "dev.public.sales", "host": "wh", "region": "us-east-2"},
        ("redshift://wh.us-east-2:5439", "dev.public.sales"),
    ),
]


@pytest.mark.parametrize(("spec", "expected"), LOCATIONS + TABLES)
def test_datasets_are_named_by_the_spec(tmp_path, lineage_file, spec, expected):
    task = {"task": "declare", "args": {"reads": [spec], "writes": [spec]}}
    assert run_routine(probe_routine(tmp_path, task), registry=registry()).ok
    start, complete = read_events(lineage_file)
    validate_event(complete)
    assert not start["inputs"] and not start["outputs"]
    [read], [wrote] = complete["inputs"], complete["outputs"]
    assert (read["namespace"], read["name"]) == expected
    assert (wrote["namespace"], wrote["name"]) == expected


def test_counts_schema_symlink_and_sql(tmp_path, lineage_file):
    table = {
        "system": "athena",
        "name": "lake.sales",
        "region": "eu-west-1",
        "location": "s3a://lake/staging/sales/",
        "columns": [["id", "bigint"], ["amount", "double"]],
        "rows": 10,
    }
    staged = {"url": "s3://lake/staging/sales", "files": 3, "rows": 10, "bytes": 2048}
    args = {"reads": [staged], "writes": [table], "sql": "INSERT INTO lake.sales SELECT 1"}
    run_routine(probe_routine(tmp_path, {"task": "declare", "args": args}), registry=registry())
    complete = read_events(lineage_file)[1]
    validate_event(complete)
    [read], [wrote] = complete["inputs"], complete["outputs"]
    assert read["inputFacets"]["inputStatistics"] == {
        **{k: read["inputFacets"]["inputStatistics"][k] for k in ("_producer", "_schemaURL")},
        "fileCount": 3,
        "rowCount": 10,
        "size": 2048,
    }
    assert wrote["outputFacets"]["outputStatistics"]["rowCount"] == 10
    assert [(f["name"], f["type"]) for f in wrote["facets"]["schema"]["fields"]] == [
        ("id", "bigint"),
        ("amount", "double"),
    ]
    [link] = wrote["facets"]["symlinks"]["identifiers"]
    # the table's files are the dataset the staging task wrote, under the very same name
    assert (link["namespace"], link["name"]) == (read["namespace"], read["name"])
    assert complete["job"]["facets"]["sql"]["query"] == "INSERT INTO lake.sales SELECT 1"
