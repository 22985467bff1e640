"""The AthenaExecutor's params and the args of each of its tasks (pydantic, validated
before anything is sent)."""

from __future__ import annotations

import re
from typing import Literal

from lakeroutine.aws import AwsConnection
from lakeroutine.executor import Params
from lakeroutine.sql import table_tasks
from lakeroutine.sql.query_text import QueryText
from lakeroutine.sql.tables import Identifier, TableSpec
from lakeroutine.types import Location, S3Url, check_s3_url
from pydantic import Field, ValidationInfo, field_validator

PRICE_PER_TB_USD = 5.0
"""Athena's on-demand price in most regions: $5 per TB (2**40 bytes) scanned, each query
rounded up to the megabyte with a 10 MB minimum; DDL is free."""

_AWS_NAME = re.compile(r"[A-Za-z0-9._\-]{1,128}")
OUTPUT_SUFFIXES = (".csv", ".json", ".jsonl")


def _aws_name(value: str) -> str:
    if not _AWS_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid name (letters, digits, . _ -; 1-128)")
    return value


class AthenaParams(AwsConnection):
    """Where queries run and how long to wait for them (the connection: region_name,
    profile_name, endpoint_url, retry_mode, max_attempts, from lakeroutine.aws)."""

    database: Identifier = Field("default", description="Database queries run in")
    output_location: S3Url | None = Field(
        None, description="s3:// folder for query results (else the workgroup's)"
    )
    workgroup: str = Field("primary", description="Athena workgroup")
    catalog: str = Field("AwsDataCatalog", description="Data catalog")
    poll_interval_s: float = Field(1.0, gt=0, le=60, description="Seconds between polls")
    max_wait_s: float = Field(
        3600.0,
        gt=0,
        le=7 * 24 * 3600.0,
        description="Stop a query running longer (default 1 h, at most 7 days)",
    )
    price_per_tb_usd: float = Field(PRICE_PER_TB_USD, ge=0, description="For the cost estimate")
    preview_rows: int = Field(10, ge=0, le=1000, description="Rows of a result in the report")
    engine_version: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="Athena engine every query runs on, as ListEngineVersions names it "
        "('DuckDB', 'Athena engine version 3'); default: the workgroup's",
    )

    @field_validator("workgroup", "catalog")
    @classmethod
    def _names(cls, value: str) -> str:
        return _aws_name(value)


class S3TableSpec(TableSpec):
    """A table spec whose ``location`` must be an ``s3://`` folder (Athena reads only S3)."""

    @field_validator("location")
    @classmethod
    def _s3(cls, value: str) -> str:
        if not value.startswith("s3://"):
            raise ValueError(f"Athena tables live on S3: location must be s3://..., not {value!r}")
        check_s3_url(value)
        return value if value.endswith("/") else value + "/"


class CreateDatabaseArgs(Params):
    """``create_database``: the params' database unless ``name`` is given."""

    name: Identifier | None = None
    location: S3Url | None = None


class CreateTableArgs(table_tasks.CreateTableArgs):
    """``create_table``: a table spec on S3 and what to do if the table exists."""

    table: S3TableSpec


class Partition(table_tasks.PartitionArgs):
    """One partition: its values and, optionally, its own ``s3://`` location."""

    location: S3Url | None = None


class AddPartitionsArgs(table_tasks.AddPartitionsArgs):
    """``add_partitions``: partitions of ``table``, at ``s3://`` locations."""

    partitions: list[Partition] = Field(min_length=1)
    location: S3Url | None = None


class RunQueryArgs(QueryText):
    """``run_query``: the SQL, and an optional ``output`` file (.csv, .json, .jsonl)
    for the rows, local or on an installed storage."""

    output: Location | None = None

    @field_validator("output")
    @classmethod
    def _output(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().endswith(OUTPUT_SUFFIXES):
            raise ValueError(f"output must end with one of {', '.join(OUTPUT_SUFFIXES)}")
        return value


class CtasArgs(table_tasks.CtasArgs):
    """``ctas``: a query's result as a new table at an S3 location that must be empty;
    ``format: iceberg`` makes an Iceberg table (Parquet files) partitioned by transforms."""

    location: S3Url
    format: Literal["parquet", "orc", "json", "csv", "avro", "iceberg"] = "parquet"
    partitioned_by: list[str] = Field(
        default_factory=list,
        description="Partition columns (the query's last ones); with format iceberg, "
        "transforms such as day(ts) or bucket(16, id)",
    )

    @field_validator("partitioned_by")
    @classmethod
    def _partitions(cls, value: list[str], info: ValidationInfo) -> list[str]:
        from lakeroutine.sql.iceberg import parse_transform
        from lakeroutine.sql.tables import check_name

        if info.data.get("format") == "iceberg":
            return [parse_transform(item).text() for item in value]
        return [check_name(item, "partition column") for item in value]

    @field_validator("location")
    @classmethod
    def _folder(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"
