"""The Iceberg table spec (``"format": "iceberg"``), validated offline like the Hive spec.

A routine describes an Iceberg table once: columns (Hive/Athena type names), partition
transforms (``day(ts)``, ``bucket(16, id)``, ``truncate(10, name)``, a bare column for
identity), identifier (key) columns, sort order, table properties and location. Every
executor that can reach Iceberg (the DuckDB twin, Glue, Athena) takes this spec unchanged.
Only pydantic is imported here: pyiceberg is imported by the plugin when a task runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lakeroutine.sql.tables import (
    ColumnType,
    ColumnTypeName,
    Identifier,
    both_column_forms,
    check_name,
    columns_as_mapping,
    parse_type,
    quote_literal,
)

TIME_TRANSFORMS = ("year", "month", "day", "hour")
_PROPERTY_KEY = re.compile(r"[A-Za-z0-9_.:\-]+")
_TRANSFORM = re.compile(
    r"\s*(?:(?P<fn>[A-Za-z_]+)\s*\(\s*(?:(?P<n>\d+)\s*,\s*)?(?P<col>[A-Za-z_][A-Za-z0-9_]*)\s*\)"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))\s*"
)
_SORT = re.compile(
    r"\s*(?P<col>[A-Za-z_][A-Za-z0-9_]*)(?:\s+(?P<dir>asc|desc))?"
    r"(?:\s+nulls\s+(?P<nulls>first|last))?\s*",
    re.IGNORECASE,
)

# What Iceberg (and Athena's Iceberg DDL) has no type for.
_NOT_IN_ICEBERG = {
    "tinyint": "int",
    "smallint": "int",
    "char": "string",
    "varchar": "string",
}
_BUCKETABLE = {"int", "bigint", "string", "date", "timestamp", "decimal", "binary"}
_TRUNCATABLE = {"int", "bigint", "string", "decimal", "binary"}
_TIMES = {"date", "timestamp"}
_KEY_TYPES = {"int", "bigint", "string", "date", "timestamp", "decimal", "boolean", "binary"}

WIDENINGS = {("int", "bigint"), ("float", "double")}
"""Type changes Iceberg allows without rewriting data (decimal precision may also grow)."""


@dataclass(frozen=True)
class PartitionField:
    """One partition transform: ``transform`` (identity, year, month, day, hour, bucket,
    truncate), its ``source`` column and ``width`` (bucket count or truncate width)."""

    transform: str
    source: str
    width: int | None = None

    @property
    def name(self) -> str:
        """The partition field's name, as Iceberg writers name it (``ts_day``)."""
        if self.transform == "identity":
            return self.source
        suffix = self.transform if self.width is None else f"{self.transform}_{self.width}"
        return f"{self.source}_{suffix}"

    def text(self) -> str:
        """The transform as a routine writes it (``bucket(16, id)``)."""
        if self.transform == "identity":
            return self.source
        if self.width is None:
            return f"{self.transform}({self.source})"
        return f"{self.transform}({self.width}, {self.source})"


def parse_transform(text: str) -> PartitionField:
    """``day(ts)``, ``bucket(16, id)``, ``truncate(4, name)``, ``identity(c)`` or ``c``."""
    match = _TRANSFORM.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(
            f"partition transform {text!r} is not one of: column, identity(column), "
            "year/month/day/hour(column), bucket(N, column), truncate(N, column)"
        )
    if match["bare"]:
        return PartitionField("identity", check_name(match["bare"], "partition column"))
    fn, width = match["fn"].lower(), match["n"]
    source = check_name(match["col"], "partition column")
    if fn in ("bucket", "truncate"):
        if width is None or int(width) < 1:
            raise ValueError(f"{fn}(N, column) needs a positive N, as in {fn}(16, {source})")
        return PartitionField(fn, source, int(width))
    if width is not None:
        raise ValueError(f"{fn}({width}, {source}): only bucket and truncate take a number")
    if fn not in (*TIME_TRANSFORMS, "identity"):
        raise ValueError(f"unknown partition transform {fn!r} in {text!r}")
    return PartitionField(fn, source)


@dataclass(frozen=True)
class SortField:
    """One sort key: a column, ascending or not, nulls first or last."""

    column: str
    ascending: bool = True
    nulls_first: bool = True

    def text(self) -> str:
        order = "ASC" if self.ascending else "DESC"
        nulls = "FIRST" if self.nulls_first else "LAST"
        return f"{self.column} {order} NULLS {nulls}"


def parse_sort(text: str) -> SortField:
    """``ts``, ``ts desc``, ``id asc nulls last`` (nulls first by default when ascending)."""
    match = _SORT.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"sort key {text!r} is not 'column [asc|desc] [nulls first|last]'")
    ascending = (match["dir"] or "asc").lower() == "asc"
    nulls = match["nulls"]
    nulls_first = ascending if nulls is None else nulls.lower() == "first"
    return SortField(check_name(match["col"], "sort column"), ascending, nulls_first)


def check_iceberg_type(text: str) -> str:
    """A Hive type name Iceberg can hold, canonicalised; ValueError naming the alternative."""
    parsed = parse_type(text)
    _refuse_non_iceberg(parsed, text)
    return parsed.hive()


def _refuse_non_iceberg(parsed: ColumnType, text: str) -> None:
    if parsed.kind in _NOT_IN_ICEBERG:
        raise ValueError(
            f"Iceberg has no {parsed.kind} type (in {text!r}): use {_NOT_IN_ICEBERG[parsed.kind]}"
        )
    for item in parsed.items:
        _refuse_non_iceberg(item, text)


def is_widening(old: str, new: str) -> bool:
    """Whether changing a column from ``old`` to ``new`` keeps every value (Iceberg's type
    promotions: int to bigint, float to double, decimal(p,s) to decimal(P,s) with P >= p)."""
    a, b = parse_type(old), parse_type(new)
    if a == b:
        return True
    if (a.kind, b.kind) in WIDENINGS:
        return True
    if a.kind == b.kind == "decimal":
        return a.params[1] == b.params[1] and b.params[0] >= a.params[0]
    return False


def _check_properties(properties: dict[str, str]) -> dict[str, str]:
    for key, value in properties.items():
        if not _PROPERTY_KEY.fullmatch(key):
            raise ValueError(f"unsafe property name {key!r}")
        quote_literal(value, "hive")  # refuses control characters
    return properties


class IcebergTableSpec(BaseModel):
    """An Iceberg table: columns, partition transforms, key columns, sort order, properties.

    ``location`` is optional (the catalog's warehouse decides then); each executor narrows
    the scheme it can use (``s3://`` on AWS, a local folder on the twin).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Identifier = Field(description="Table name: letters, digits, underscores")
    format: Literal["iceberg"] = Field(description='Always "iceberg"')
    columns: dict[str, ColumnTypeName] = Field(
        min_length=1,
        description="Column name -> Hive type (string, bigint, decimal(p,s)...)",
        json_schema_extra=both_column_forms,
    )
    partitioned_by: list[str] = Field(
        default_factory=list,
        description="Transforms: column, day(ts), month(ts), bucket(16, id), truncate(4, s)",
    )
    identifier_columns: list[Identifier] = Field(
        default_factory=list, description="Key columns (merge matches on them by default)"
    )
    sort_order: list[str] = Field(default_factory=list, description="column [asc|desc]")
    properties: dict[str, str] = Field(default_factory=dict, description="Table properties")
    location: str | None = Field(None, description="Folder of the table (else the warehouse's)")

    @field_validator("columns", mode="before")
    @classmethod
    def _either_form(cls, value: Any) -> Any:
        """``[{"name", "type"}]`` (Redshift's form) is taken too: one table, written once."""
        return columns_as_mapping(value)

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: dict[str, str]) -> dict[str, str]:
        checked: dict[str, str] = {}
        for name, type_name in value.items():
            key = check_name(name, "column name")
            if key in checked:
                raise ValueError(f"column {name!r} is given twice (names are case-insensitive)")
            checked[key] = check_iceberg_type(type_name)
        return checked

    @field_validator("properties")
    @classmethod
    def _properties(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_properties(value)

    @field_validator("location")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is not None:
            quote_literal(value, "hive")
        return value

    @model_validator(mode="after")
    def _check(self) -> IcebergTableSpec:
        check_partitioning(self.partitioned_by, self.columns)
        for column in self.identifier_columns:
            kind = self._column_kind(column, "identifier column")
            if kind not in _KEY_TYPES:
                raise ValueError(f"identifier column {column!r} cannot be a {kind} (not a key)")
        if len(set(self.identifier_columns)) != len(self.identifier_columns):
            raise ValueError("identifier_columns lists a column twice")
        for text in self.sort_order:
            sort = parse_sort(text)
            self._column_kind(sort.column, "sort column")
        return self

    def _column_kind(self, column: str, what: str) -> str:
        if column not in self.columns:
            raise ValueError(f"{what} {column!r} is not a column ({', '.join(self.columns)})")
        return parse_type(self.columns[column]).kind

    @property
    def partition_fields(self) -> list[PartitionField]:
        return [parse_transform(t) for t in self.partitioned_by]

    @property
    def sort_fields(self) -> list[SortField]:
        return [parse_sort(t) for t in self.sort_order]


def check_partitioning(transforms: list[str], columns: dict[str, str]) -> list[PartitionField]:
    """The parsed transforms, each on an existing column of a type it can take."""
    fields = []
    for text in transforms:
        field = parse_transform(text)
        if field.source not in columns:
            raise ValueError(
                f"partition transform {text!r}: no column {field.source!r} "
                f"(columns: {', '.join(columns)})"
            )
        kind = parse_type(columns[field.source]).kind
        allowed = {
            "bucket": _BUCKETABLE,
            "truncate": _TRUNCATABLE,
            **dict.fromkeys(TIME_TRANSFORMS, _TIMES),
        }.get(field.transform)
        if field.transform == "identity" and kind in ("array", "map", "struct"):
            allowed = set()
        if allowed is not None and kind not in allowed:
            raise ValueError(f"partition transform {text!r} cannot apply to a {kind} column")
        fields.append(field)
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise ValueError(f"partition transforms repeat a field: {', '.join(names)}")
    return fields


__all__ = [
    "WIDENINGS",
    "IcebergTableSpec",
    "PartitionField",
    "SortField",
    "check_iceberg_type",
    "check_partitioning",
    "is_widening",
    "parse_sort",
    "parse_transform",
]
