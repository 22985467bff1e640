"""The args of the Iceberg tasks, the same on every executor (DuckDB twin, Glue, Athena).

A routine developed on the twin runs on AWS by changing the executor and its params: the
tasks and their args stay. Locations are checked per executor family: ``local`` (the twin:
a folder relative to the routine file, or a file:// URL) or ``s3`` (``s3://bucket/...``).
Only pydantic is imported here.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from lakeroutine.executor import Params
from lakeroutine.sql.iceberg import IcebergTableSpec, check_iceberg_type, check_partitioning
from lakeroutine.sql.query_text import check_sql
from lakeroutine.sql.tables import Identifier, check_name
from lakeroutine.types import check_s3_url, resolve_location

LocationKind = Literal["local", "s3"]


def check_location(value: str, info: ValidationInfo, kind: LocationKind, what: str) -> str:
    """A location of ``kind``: a local folder made absolute, or an ``s3://`` URL."""
    if kind == "s3":
        if not value.startswith("s3://"):
            raise ValueError(f"on AWS, {what} must be an s3:// URL, not {value!r}")
        return check_s3_url(value)
    if "://" in value and not value.startswith("file://"):
        raise ValueError(f"on the local twin, {what} must be a local folder, not {value!r}")
    return resolve_location(value, info)


class _Located(Params):
    """Args whose locations an executor family narrows (``location_kind``)."""

    location_kind: ClassVar[LocationKind] = "local"


class CreateIcebergArgs(_Located):
    """``iceberg_create_table``: the spec; if the table exists, ``skip`` keeps it when its
    schema matches the spec (else fails naming the columns), ``fail`` fails, ``replace``
    drops it first."""

    table: IcebergTableSpec
    if_exists: Literal["skip", "fail", "replace"] = "skip"

    @field_validator("table")
    @classmethod
    def _where(cls, value: IcebergTableSpec, info: ValidationInfo) -> IcebergTableSpec:
        if value.location is None:
            return value
        where = check_location(value.location, info, cls.location_kind, "table.location")
        return value.model_copy(update={"location": where})


class SourceArgs(_Located):
    """Where the rows come from: staged Parquet ``files`` (a folder or one file) or a
    ``query`` run by the executor's engine (DuckDB on the twin, Athena on AWS)."""

    table: Identifier
    files: str | None = Field(None, description="Staged Parquet: a folder or a .parquet file")
    query: str | None = Field(None, description="SQL whose rows are the source")

    @field_validator("files")
    @classmethod
    def _files(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        return check_location(value, info, cls.location_kind, "files")

    @field_validator("query")
    @classmethod
    def _query(cls, value: str | None) -> str | None:
        return None if value is None else check_sql(value)

    @model_validator(mode="after")
    def _one_source(self) -> SourceArgs:
        if (self.files is None) == (self.query is None):
            raise ValueError("give exactly one source: 'files' (staged Parquet) or 'query'")
        return self


class AppendArgs(SourceArgs):
    """``iceberg_append``: add the staged rows exactly once. ``mode: auto`` registers files
    whose schema matches the table without rewriting them (``add_files``) and rewrites the
    others; ``reference`` refuses to rewrite; ``rewrite`` always rewrites."""

    mode: Literal["auto", "reference", "rewrite"] = "auto"
    branch: Identifier | None = Field(
        None,
        description="Commit to this branch, made from main's head if missing (a "
        "write-audit-publish audit branch: iceberg_check publishes it)",
    )


class MergeArgs(SourceArgs):
    """``iceberg_merge``: upsert the source on ``keys``: matching rows updated, new rows
    inserted; ``delete_missing`` also deletes table rows whose key is not in the source."""

    keys: list[Identifier] = Field(min_length=1, description="Columns rows are matched on")
    delete_missing: bool = Field(False, description="Delete rows whose key the source lacks")

    @field_validator("keys", mode="before")
    @classmethod
    def _keys(cls, value: Any) -> Any:
        if value in (None, [], ""):
            raise ValueError("a merge needs keys: the columns rows are matched on")
        return value


class OverwriteArgs(SourceArgs):
    """``iceberg_overwrite``: replace the partitions the source has rows in (the others
    stay); on an unpartitioned table, the whole table."""


class EvolveArgs(Params):
    """``iceberg_evolve``: add columns, rename them, widen their types (int to bigint,
    float to double, decimal precision up), change the partitioning or the sort order."""

    table: Identifier
    add_columns: dict[str, str] = Field(default_factory=dict, description="name -> type")
    rename_columns: dict[str, str] = Field(default_factory=dict, description="old -> new")
    widen_columns: dict[str, str] = Field(default_factory=dict, description="name -> type")
    partitioned_by: list[str] | None = Field(None, description="The new partition transforms")
    sort_order: list[str] | None = Field(None, description="The new sort order")

    @field_validator("add_columns", "widen_columns")
    @classmethod
    def _types(cls, value: dict[str, str]) -> dict[str, str]:
        return {check_name(k, "column name"): check_iceberg_type(t) for k, t in value.items()}

    @field_validator("rename_columns")
    @classmethod
    def _renames(cls, value: dict[str, str]) -> dict[str, str]:
        return {
            check_name(k, "column name"): check_name(v, "column name") for k, v in value.items()
        }

    @model_validator(mode="after")
    def _something(self) -> EvolveArgs:
        changes = (self.add_columns, self.rename_columns, self.widen_columns)
        if not any(changes) and self.partitioned_by is None and self.sort_order is None:
            raise ValueError(
                "nothing to evolve: give add_columns, rename_columns, "
                "widen_columns, partitioned_by or sort_order"
            )
        if self.partitioned_by is not None:  # the syntax now; the columns when it runs
            check_partitioning_syntax(self.partitioned_by)
        return self


def check_partitioning_syntax(transforms: list[str]) -> None:
    """Each transform parses (its column is checked against the table when the task runs)."""
    from lakeroutine.sql.iceberg import parse_transform

    for text in transforms:
        parse_transform(text)


class CompactPolicy(Params):
    """Compaction: partitions holding more than ``min_small_files`` files smaller than
    ``small_file_mb`` are rewritten into files of about ``target_file_mb``."""

    target_file_mb: int = Field(128, ge=1, le=4096)
    small_file_mb: float | None = Field(None, gt=0, description="Default: target_file_mb / 4")
    min_small_files: int = Field(5, ge=2, description="Compact partitions with more")


class MaintainArgs(Params):
    """``iceberg_maintain``: compaction, snapshot expiry ("keep 5 days", at least
    ``retain_last`` snapshots) and removal of orphan files older than a safety age."""

    table: Identifier
    compact: CompactPolicy | None = None
    expire_older_than_days: float | None = Field(None, ge=0, description="Keep N days")
    retain_last: int = Field(1, ge=1, description="Snapshots always kept")
    remove_orphans_older_than_hours: float | None = Field(
        None, ge=0, description="Delete unreferenced files older than this (e.g. 72)"
    )

    @model_validator(mode="after")
    def _something(self) -> MaintainArgs:
        policies = (self.compact, self.expire_older_than_days, self.remove_orphans_older_than_hours)
        if all(p is None for p in policies):
            raise ValueError(
                "nothing to maintain: give compact, expire_older_than_days or "
                "remove_orphans_older_than_hours"
            )
        return self


class IcebergQueryArgs(Params):
    """``iceberg_query``: a query over Iceberg tables; ``FOR VERSION AS OF <snapshot id>`` and
    ``FOR TIMESTAMP AS OF TIMESTAMP '...'`` after a table read it as it was (Athena syntax)."""

    sql: str
    preview_rows: int = Field(10, ge=0, le=1000)

    @field_validator("sql")
    @classmethod
    def _sql(cls, value: str) -> str:
        return check_sql(value)


_IAM_ROLE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")


class ExternalSchemaArgs(Params):
    """``iceberg_external_schema`` (Redshift): an external schema over a Glue database, so
    Redshift reads (and writes) the Iceberg tables in it as ``schema.table``."""

    schema_: Identifier = Field(alias="schema", description="Redshift schema to create")
    glue_database: Identifier = Field(description="Glue Data Catalog database it maps")
    iam_role: str = Field(description="IAM role ARN Redshift assumes to read the catalog")
    region: str | None = Field(None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$", description="Glue's")

    @field_validator("iam_role")
    @classmethod
    def _role(cls, value: str) -> str:
        if not _IAM_ROLE.fullmatch(value):
            raise ValueError(f"{value!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/x)")
        return value


def s3_variant(model: type[_Located], name: str) -> type[_Located]:
    """The same args with locations that must be ``s3://`` (for the AWS executors)."""
    return type(name, (model,), {"location_kind": "s3", "__doc__": model.__doc__})


__all__ = [
    "AppendArgs",
    "CompactPolicy",
    "CreateIcebergArgs",
    "EvolveArgs",
    "ExternalSchemaArgs",
    "IcebergQueryArgs",
    "MaintainArgs",
    "MergeArgs",
    "OverwriteArgs",
    "SourceArgs",
    "check_partitioning",
    "s3_variant",
]
