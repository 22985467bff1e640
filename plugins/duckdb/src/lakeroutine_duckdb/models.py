"""The DuckDBExecutor's params and task args: Athena's, with local folders for locations.

Task names and args mirror the AthenaExecutor's, so a routine moves from one to the other
by changing the executor name, its params and (through a ``${var}``) the locations.
"""

from __future__ import annotations

from pathlib import Path

from lakeroutine.executor import Params
from lakeroutine.sql import table_tasks
from lakeroutine.sql.query_text import QueryText
from lakeroutine.sql.tables import Identifier, TableSpec
from lakeroutine.storage.registry import scheme_of
from lakeroutine.types import LocalPath, resolve_location
from pydantic import Field, ValidationInfo, field_validator

OUTPUT_SUFFIXES = (".csv", ".json", ".jsonl", ".parquet")


def local_folder(value: str, info: ValidationInfo, what: str = "location") -> str:
    """A local folder made absolute against the routine file; URLs are refused (DuckDB's
    httpfs is not available, so s3:// and the like cannot be read)."""
    if scheme_of(value) != "file":
        raise ValueError(f"DuckDB reads local files: {what} must be a local folder, not {value!r}")
    resolved = resolve_location(value, info)
    return resolved.rstrip("/\\") + "/"


class DuckDBParams(Params):
    """The database file and the schema tables go in."""

    database: LocalPath = Field(description="A .duckdb file, relative to the routine file")
    schema_name: Identifier = Field(
        "main", alias="schema", description="Schema for tables (Athena's database)"
    )
    preview_rows: int = Field(10, ge=0, le=1000, description="Rows of a result in the report")

    @field_validator("database")
    @classmethod
    def _duckdb_file(cls, value: Path) -> Path:
        if value.suffix not in (".duckdb", ".db"):
            raise ValueError(f"must be a .duckdb file, not {value.name!r}")
        return value


class LocalTableSpec(TableSpec):
    """A table spec over a local folder (hive-style partition folders below it)."""

    @field_validator("location")
    @classmethod
    def _local(cls, value: str, info: ValidationInfo) -> str:
        return local_folder(value, info)

    @field_validator("format")
    @classmethod
    def _readable(cls, value: str) -> str:
        if value == "orc":
            raise ValueError("DuckDB cannot read ORC: use parquet, csv or json")
        return value


class CreateDatabaseArgs(Params):
    """``create_database``: a schema (the params' unless ``name`` is given)."""

    name: Identifier | None = None


class CreateTableArgs(table_tasks.CreateTableArgs):
    """``create_table``: a view over the spec's files; ``if_exists`` as on Athena."""

    table: LocalTableSpec


class Partition(table_tasks.PartitionArgs):
    """One partition: its values and, optionally, its own folder."""

    @field_validator("location")
    @classmethod
    def _local(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else local_folder(value, info)


class AddPartitionsArgs(table_tasks.AddPartitionsArgs):
    """``add_partitions``: on DuckDB partitions are read from the folders, so this checks
    that each partition's folder holds files (``batch_size`` is accepted for Athena parity)."""

    partitions: list[Partition] = Field(min_length=1)

    @field_validator("location")
    @classmethod
    def _local(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else local_folder(value, info)


class RunQueryArgs(QueryText):
    """``run_query``: the SQL and an optional local ``output`` file (.csv, .json, .jsonl,
    .parquet) for the rows."""

    output: str | None = None

    @field_validator("output")
    @classmethod
    def _output(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not value.lower().endswith(OUTPUT_SUFFIXES):
            raise ValueError(f"output must end with one of {', '.join(OUTPUT_SUFFIXES)}")
        if scheme_of(value) != "file":
            raise ValueError("DuckDB writes local files: output must be a local path")
        return resolve_location(value, info)


class CtasArgs(table_tasks.CtasArgs):
    """``ctas``: a query's result written under a local ``location``, read back as a table."""

    @field_validator("location")
    @classmethod
    def _local(cls, value: str, info: ValidationInfo) -> str:
        return local_folder(value, info)
