"""The Iceberg table spec (``lakeroutine.sql.iceberg``): transforms, keys, sort order, types
and the task args, validated offline with errors that name what is wrong."""

from __future__ import annotations

import pytest
from lakeroutine.sql.iceberg import (
    IcebergTableSpec,
    PartitionField,
    is_widening,
    parse_sort,
    parse_transform,
)
from lakeroutine.sql.iceberg_tasks import EvolveArgs, MaintainArgs, MergeArgs, s3_variant
from pydantic import ValidationError

BASE = {
    "name": "Events",
    "format": "iceberg",
    "columns": {"id": "bigint", "ts": "timestamp", "Name": "string", "amount": "decimal(10,2)"},
}


def test_a_full_spec_is_accepted_and_normalised() -> None:
    spec = IcebergTableSpec(
        **BASE,
        partitioned_by=["day(ts)", "bucket(16, id)", "truncate(4, name)", "name"],
        identifier_columns=["id"],
        sort_order=["ts desc", "id asc nulls last"],
        properties={"write.target-file-size-bytes": "134217728"},
        location="s3://lake/tables/events/",
    )
    assert spec.name == "events" and list(spec.columns) == ["id", "ts", "name", "amount"]
    assert [f.name for f in spec.partition_fields] == [
        "ts_day",
        "id_bucket_16",
        "name_truncate_4",
        "name",
    ]
    assert [f.text() for f in spec.sort_fields] == ["ts DESC NULLS LAST", "id ASC NULLS LAST"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("day(ts)", PartitionField("day", "ts")),
        ("BUCKET( 16 , id )", PartitionField("bucket", "id", 16)),
        ("identity(kind)", PartitionField("identity", "kind")),
        ("kind", PartitionField("identity", "kind")),
    ],
)
def test_transforms_parse(text: str, expected: PartitionField) -> None:
    assert parse_transform(text) == expected


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"partitioned_by": ["day(when)"]}, "no column 'when'"),
        ({"partitioned_by": ["month(name)"]}, "cannot apply to a string"),
        ({"partitioned_by": ["bucket(0, id)"]}, "positive N"),
        ({"partitioned_by": ["day(3, ts)"]}, "only bucket and truncate"),
        ({"partitioned_by": ["day(ts)", "day(ts)"]}, "repeat a field"),
        ({"partitioned_by": ["ts; drop table x"]}, "is not one of"),
        ({"identifier_columns": ["nope"]}, "identifier column 'nope'"),
        ({"identifier_columns": ["id", "id"]}, "twice"),
        ({"sort_order": ["id sideways"]}, "sort key"),
        ({"columns": {"id": "smallint"}}, "Iceberg has no smallint"),
        ({"columns": {"id": "array<varchar(3)>"}}, "Iceberg has no varchar"),
        ({"format": "parquet"}, "format"),
        ({"properties": {"bad key": "x"}}, "unsafe property name"),
        ({"location": "s3://x/\x01"}, "control character"),
    ],
)
def test_bad_specs_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        IcebergTableSpec(**{**BASE, **changes})


def test_widening_is_only_what_keeps_every_value() -> None:
    assert is_widening("int", "bigint") and is_widening("float", "double")
    assert is_widening("decimal(10,2)", "decimal(12,2)")
    assert not is_widening("bigint", "int") and not is_widening("double", "float")
    assert not is_widening("decimal(10,2)", "decimal(12,3)")
    assert not is_widening("string", "bigint")


def test_sort_keys() -> None:
    assert parse_sort("ts").nulls_first and not parse_sort("ts desc").nulls_first


def test_task_args() -> None:
    with pytest.raises(ValidationError, match="a merge needs keys"):
        MergeArgs(table="t", files="/tmp/x", keys=[])
    with pytest.raises(ValidationError, match="nothing to evolve"):
        EvolveArgs(table="t")
    with pytest.raises(ValidationError, match="unknown partition transform 'week'"):
        EvolveArgs(table="t", partitioned_by=["week(ts)"])
    with pytest.raises(ValidationError, match="nothing to maintain"):
        MaintainArgs(table="t")
    s3 = s3_variant(MergeArgs, "S3MergeArgs")
    with pytest.raises(ValidationError, match="s3:// URL"):
        s3(table="t", files="/local/x", keys=["id"])
    assert s3(table="t", files="s3://b/x/", keys=["id"]).files == "s3://b/x/"
