"""The table spec every table-making executor shares, and safe SQL for it per dialect.

A routine describes a table once (``{"name", "columns", "partitioned_by", "format",
"location", csv options, "properties"}`` with Hive/Athena type names) and any executor
(Athena, Glue, DuckDB...) can create it. Names are validated here and every identifier and
literal is quoted for its target dialect, so no SQL can be injected through a routine's
names or values. Dialects: ``"hive"`` (Athena DDL, Glue), ``"trino"`` (Athena queries) and
``"duckdb"``. Only pydantic is imported: this module is cheap.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

Dialect = Literal["hive", "trino", "duckdb"]
TableFormat = Literal["parquet", "csv", "json", "orc"]

MAX_NAME_LENGTH = 255
"""Glue and Athena refuse longer table, column and database names."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROPERTY_KEY = re.compile(r"[A-Za-z0-9_.:\-]+")

# Hive type name -> DuckDB type name, for the primitive types the spec accepts.
_PRIMITIVES: dict[str, str] = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "char": "VARCHAR",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "binary": "BLOB",
    "decimal": "DECIMAL",
}
_ALIASES = {"integer": "int", "real": "float"}
_LENGTH_TYPES = {"varchar", "char"}


# --------------------------------------------------------------------------- names


def check_name(name: str, what: str = "name") -> str:
    """A database, table or column name, lowercased (Athena and Glue store names lowercase).

    Letters, digits and underscores, not starting with a digit, at most 255 characters;
    anything else is a ValueError saying what is wrong (pydantic turns it into a field error).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"{what} must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"{what} {name[:40]!r}... is longer than {MAX_NAME_LENGTH} characters")
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"unsafe {what} {name!r}: use letters, digits and underscores, "
            "not starting with a digit"
        )
    return name.lower()


Identifier = Annotated[str, AfterValidator(check_name)]
"""A validated, lowercased database/table/column name (see :func:`check_name`)."""


# --------------------------------------------------------------------------- quoting


def quote_identifier(name: str, dialect: Dialect) -> str:
    """``name`` validated and quoted for ``dialect``: backticks for Hive DDL, double quotes
    for Trino (Athena queries) and DuckDB."""
    checked = check_name(name, "identifier")
    if dialect == "hive":
        return f"`{checked}`"
    if dialect in ("trino", "duckdb"):
        return f'"{checked}"'
    raise ValueError(f"unknown SQL dialect {dialect!r}")


def quote_qualified(parts: list[str | None], dialect: Dialect) -> str:
    """``catalog.db.table`` with each present part quoted (None parts are left out)."""
    return ".".join(quote_identifier(p, dialect) for p in parts if p)


_HIVE_ESCAPES = {"\\": "\\\\", "'": "\\'", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_HIVE_TABLE = str.maketrans(_HIVE_ESCAPES)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # below space, but tab and newlines


def quote_literal(value: Any, dialect: Dialect) -> str:
    """``value`` as a SQL string literal of ``dialect``.

    Hive (Athena DDL) escapes with backslashes (``'it\\'s'``; two adjacent quotes would be
    two literals there); Trino and DuckDB double the quote (``'it''s'``). Control
    characters other than tab and newline are refused: no literal needs them.
    """
    text = str(value)
    control = _CONTROL.search(text)
    if control is not None:
        char = control.group()
        raise ValueError(f"control character {char!r} is not allowed in a SQL literal")
    if dialect == "hive":
        return "'" + text.translate(_HIVE_TABLE) + "'"
    if dialect in ("trino", "duckdb"):
        return "'" + text.replace("'", "''") + "'"
    raise ValueError(f"unknown SQL dialect {dialect!r}")


def sql_value(value: Any, dialect: Dialect) -> str:
    """A Python value as a SQL literal: numbers and booleans bare, None as NULL, anything
    else as a quoted string (for Athena execution parameters and partition values)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} has no SQL literal: send NaN or infinity as text")
    if isinstance(value, (int, float)):
        return repr(value)
    return quote_literal(value, dialect)


# --------------------------------------------------------------------------- types


@dataclass(frozen=True)
class ColumnType:
    """A parsed Hive type: ``kind`` (``int``, ``decimal``, ``array``...), numeric
    ``params`` (``decimal(10,2)``, ``varchar(20)``), ``items`` (element, key/value or
    struct field types) and ``fields`` (struct field names)."""

    kind: str
    params: tuple[int, ...] = ()
    items: tuple[ColumnType, ...] = ()
    fields: tuple[str, ...] = ()

    @property
    def is_primitive(self) -> bool:
        return self.kind in _PRIMITIVES

    def hive(self, *, quoted: bool = False) -> str:
        """The canonical Hive/Athena spelling (``array<struct<a:int>>``), as the Glue catalog
        stores it; ``quoted=True`` backquotes struct field names, for DDL (where a field may
        be a reserved word such as ``date``)."""
        if self.kind == "array":
            return f"array<{self.items[0].hive(quoted=quoted)}>"
        if self.kind == "map":
            key, value = (t.hive(quoted=quoted) for t in self.items)
            return f"map<{key},{value}>"
        if self.kind == "struct":
            inner = ",".join(
                f"{quote_identifier(n, 'hive') if quoted else n}:{t.hive(quoted=quoted)}"
                for n, t in zip(self.fields, self.items, strict=True)
            )
            return f"struct<{inner}>"
        if self.params:
            return f"{self.kind}({','.join(map(str, self.params))})"
        return self.kind

    def duckdb(self) -> str:
        """The DuckDB spelling (``STRUCT("a" INTEGER)[]``)."""
        if self.kind == "array":
            return f"{self.items[0].duckdb()}[]"
        if self.kind == "map":
            return f"MAP({self.items[0].duckdb()}, {self.items[1].duckdb()})"
        if self.kind == "struct":
            inner = ", ".join(
                f"{quote_identifier(n, 'duckdb')} {t.duckdb()}"
                for n, t in zip(self.fields, self.items, strict=True)
            )
            return f"STRUCT({inner})"
        if self.kind == "decimal":
            return f"DECIMAL({self.params[0]}, {self.params[1]})"
        return _PRIMITIVES[self.kind]

    def trino(self) -> str:
        """The Trino spelling, for casts in Athena queries (``array(row(a integer))``)."""
        if self.kind == "array":
            return f"array({self.items[0].trino()})"
        if self.kind == "map":
            return f"map({self.items[0].trino()}, {self.items[1].trino()})"
        if self.kind == "struct":
            inner = ", ".join(
                f"{quote_identifier(n, 'trino')} {t.trino()}"
                for n, t in zip(self.fields, self.items, strict=True)
            )
            return f"row({inner})"
        names = {"string": "varchar", "int": "integer", "float": "real", "binary": "varbinary"}
        base = names.get(self.kind, self.kind)
        if self.params:
            return f"{base}({','.join(map(str, self.params))})"
        return base


_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|(\d+)|([<>(),:]))")


class _TypeParser:
    """Recursive descent over a Hive type string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[str] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if not match:
                raise ValueError(f"unknown column type {text!r}: unexpected {text[pos:]!r}")
            self.tokens.append(match.group(match.lastindex or 0))
            pos = match.end()
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            want = f"{expected!r}" if expected else "more"
            raise ValueError(f"unknown column type {self.text!r}: expected {want}")
        self.pos += 1
        return token

    def parse(self) -> ColumnType:
        result = self.type()
        if self.peek() is not None:
            raise ValueError(f"unknown column type {self.text!r}: unexpected {self.peek()!r}")
        return result

    def number(self) -> int:
        token = self.take()
        if not token.isdigit():
            raise ValueError(f"unknown column type {self.text!r}: expected a number")
        return int(token)

    def type(self) -> ColumnType:
        word = self.take().lower()
        word = _ALIASES.get(word, word)
        if word == "array":
            self.take("<")
            item = self.type()
            self.take(">")
            return ColumnType("array", items=(item,))
        if word == "map":
            self.take("<")
            key = self.type()
            if not key.is_primitive:
                raise ValueError(f"map keys must be a primitive type in {self.text!r}")
            self.take(",")
            value = self.type()
            self.take(">")
            return ColumnType("map", items=(key, value))
        if word == "struct":
            self.take("<")
            names: list[str] = []
            types: list[ColumnType] = []
            while True:
                names.append(check_name(self.take(), "struct field name"))
                self.take(":")
                types.append(self.type())
                if self.peek() != ",":
                    break
                self.take(",")
            self.take(">")
            if len(set(names)) != len(names):
                raise ValueError(f"duplicate struct field names in {self.text!r}")
            return ColumnType("struct", items=tuple(types), fields=tuple(names))
        if word not in _PRIMITIVES:
            known = ", ".join([*sorted(_PRIMITIVES), "array<..>", "map<..>", "struct<..>"])
            raise ValueError(f"unknown column type {self.text!r} (known: {known})")
        if word == "decimal":
            precision, scale = 10, 0
            if self.peek() == "(":
                self.take("(")
                precision = self.number()
                if self.peek() == ",":
                    self.take(",")
                    scale = self.number()
                self.take(")")
            if not 1 <= precision <= 38 or not 0 <= scale <= precision:
                raise ValueError(
                    f"decimal({precision},{scale}): precision must be 1-38 and scale 0-precision"
                )
            return ColumnType("decimal", params=(precision, scale))
        if word in _LENGTH_TYPES:
            if self.peek() != "(":  # Hive DDL needs a length: unbounded varchar is string
                return ColumnType("string") if word == "varchar" else ColumnType(word, params=(1,))
            self.take("(")
            length = self.number()
            self.take(")")
            if not 1 <= length <= 65535:
                raise ValueError(f"{word}({length}): length must be 1-65535")
            return ColumnType(word, params=(length,))
        return ColumnType(word)


def parse_type(text: str) -> ColumnType:
    """Parse a Hive/Athena type name (``bigint``, ``decimal(10,2)``,
    ``map<string,array<int>>``, ``struct<a:int,b:string>``); ValueError if unknown."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a column type must be a non-empty string")
    return _TypeParser(text).parse()


def check_type(text: str) -> str:
    """A column type in its canonical Hive spelling (see :func:`parse_type`)."""
    return parse_type(text).hive()


ColumnTypeName = Annotated[str, AfterValidator(check_type)]
"""A validated Hive type name, canonicalised (``DECIMAL(10, 2)`` -> ``decimal(10,2)``)."""


# --------------------------------------------------------------------------- the spec


def columns_as_mapping(value: Any) -> Any:
    """Columns given as a list of ``{"name", "type"}`` objects (Redshift's form) as the
    ``{name: type}`` mapping the table spec keeps; anything else is left to validation.
    One table description serves every executor, whichever form it is written in."""
    if not isinstance(value, list):
        return value
    mapping: dict[str, Any] = {}
    for number, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"name", "type"}:
            raise ValueError(
                f"column {number}: give {{'name': ..., 'type': ...}} (or columns as an "
                "object of name: type)"
            )
        if item["name"] in mapping:
            raise ValueError(f"column {item['name']!r} is given twice")
        mapping[item["name"]] = item["type"]
    return mapping


def columns_as_list(value: Any) -> Any:
    """Columns given as a ``{name: type}`` mapping (the table spec's form, as Athena and
    DuckDB take it) as a list of ``{"name", "type"}`` objects; anything else is left."""
    if not isinstance(value, dict):
        return value
    return [{"name": name, "type": type_name} for name, type_name in value.items()]


def both_column_forms(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` of a table's ``columns``: the JSON Schema lists both forms a
    routine may write (``{"name": "type"}`` and ``[{"name", "type"}]``), whichever form the
    model keeps, so an editor accepts one table description for every executor."""
    described = {key: schema.pop(key) for key in ("title", "description") if key in schema}
    kept = dict(schema)
    schema.clear()
    if kept.get("type") == "array":
        other: dict[str, Any] = {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "column name -> type",
        }
    else:
        other = {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
                "required": ["name", "type"],
                "additionalProperties": False,
            },
            "description": '[{"name": ..., "type": ...}]',
        }
    for bound in ("minItems", "minProperties"):
        if bound in kept:
            other["minProperties" if bound == "minItems" else "minItems"] = kept[bound]
    schema.update(described, anyOf=[kept, other])


def _check_columns(columns: dict[str, str], what: str) -> dict[str, str]:
    checked: dict[str, str] = {}
    for name, type_name in columns.items():
        key = check_name(name, f"{what} name")
        if key in checked:
            raise ValueError(f"{what} {name!r} is given twice (names are case-insensitive)")
        checked[key] = type_name
    return checked


def _single_char(value: str | None, what: str) -> str | None:
    if value is not None and len(value) != 1:
        raise ValueError(f"{what} must be exactly one character, not {value!r}")
    return value


class TableSpec(BaseModel):
    """A table over files: its columns, partition columns, file format and location.

    ``location`` is a folder (``s3://bucket/prefix/`` for Athena and Glue, a local folder
    for DuckDB); each executor checks the scheme it can use. ``delimiter``, ``header_lines``
    and ``quote`` apply to ``format: "csv"`` only; ``properties`` become TBLPROPERTIES.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built when used

    name: Identifier = Field(description="Table name: letters, digits, underscores")
    columns: dict[str, ColumnTypeName] = Field(
        min_length=1,
        description="Column name -> Hive type (string, bigint, decimal(p,s)...)",
        json_schema_extra=both_column_forms,
    )
    partitioned_by: dict[str, ColumnTypeName] = Field(
        default_factory=dict,
        description="Partition column name -> primitive Hive type",
        json_schema_extra=both_column_forms,
    )
    format: TableFormat = "parquet"
    location: str = Field(min_length=1, description="Folder holding the table's files")
    delimiter: str | None = Field(None, description="csv: field separator (default ',')")
    header_lines: int = Field(0, ge=0, le=100, description="csv: header lines to skip")
    quote: str | None = Field(None, description="csv: quote character")
    properties: dict[str, str] = Field(default_factory=dict, description="TBLPROPERTIES")

    @field_validator("columns", "partitioned_by", mode="before")
    @classmethod
    def _either_form(cls, value: Any) -> Any:
        return columns_as_mapping(value)

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_columns(value, "column")

    @field_validator("partitioned_by")
    @classmethod
    def _partitions(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_columns(value, "partition column")

    @model_validator(mode="after")
    def _check(self) -> TableSpec:
        for name, type_name in self.partitioned_by.items():
            if name in self.columns:
                raise ValueError(f"partition column {name!r} is also a column")
            if not parse_type(type_name).is_primitive:
                raise ValueError(f"partition column {name!r} must have a primitive type")
        _single_char(self.delimiter, "delimiter")
        _single_char(self.quote, "quote")
        csv_only = {"delimiter", "header_lines", "quote"} & self.model_fields_set
        if csv_only and self.format != "csv":
            raise ValueError(f"{', '.join(sorted(csv_only))} apply to format 'csv' only")
        for key, value in self.properties.items():
            if not _PROPERTY_KEY.fullmatch(key):
                raise ValueError(f"unsafe property name {key!r}")
            quote_literal(value, "hive")  # refuses control characters
        quote_literal(self.location, "hive")
        return self

    @property
    def all_columns(self) -> dict[str, str]:
        """Columns then partition columns, as queries see them."""
        return {**self.columns, **self.partitioned_by}


# --------------------------------------------------------------------------- Hive DDL

_SERDES = {
    "csv_quoted": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
    "json": "org.openx.data.jsonserde.JsonSerDe",
}


def _column_list(columns: dict[str, str]) -> str:
    return ",\n".join(
        f"  {quote_identifier(name, 'hive')} {parse_type(t).hive(quoted=True)}"
        for name, t in columns.items()
    )


def _storage_clause(spec: TableSpec) -> str:
    if spec.format == "parquet":
        return "STORED AS PARQUET"
    if spec.format == "orc":
        return "STORED AS ORC"
    if spec.format == "json":
        return f"ROW FORMAT SERDE {quote_literal(_SERDES['json'], 'hive')}\nSTORED AS TEXTFILE"
    delimiter = spec.delimiter or ","
    if spec.quote is not None:
        props = (
            f"{quote_literal('separatorChar', 'hive')}={quote_literal(delimiter, 'hive')}, "
            f"{quote_literal('quoteChar', 'hive')}={quote_literal(spec.quote, 'hive')}"
        )
        return (
            f"ROW FORMAT SERDE {quote_literal(_SERDES['csv_quoted'], 'hive')}\n"
            f"WITH SERDEPROPERTIES ({props})\nSTORED AS TEXTFILE"
        )
    return (
        f"ROW FORMAT DELIMITED FIELDS TERMINATED BY {quote_literal(delimiter, 'hive')}\n"
        "STORED AS TEXTFILE"
    )


def table_properties(spec: TableSpec) -> dict[str, str]:
    """TBLPROPERTIES of the table: the spec's own plus ``skip.header.line.count``."""
    props = dict(spec.properties)
    if spec.format == "csv" and spec.header_lines:
        props.setdefault("skip.header.line.count", str(spec.header_lines))
    return props


def hive_create_table(
    spec: TableSpec, *, database: str | None = None, if_not_exists: bool = False
) -> str:
    """``CREATE EXTERNAL TABLE`` for Athena (Hive DDL), every name and literal quoted."""
    head = "CREATE EXTERNAL TABLE IF NOT EXISTS" if if_not_exists else "CREATE EXTERNAL TABLE"
    parts = [
        f"{head} {quote_qualified([database, spec.name], 'hive')} (\n"
        f"{_column_list(spec.columns)}\n)"
    ]
    if spec.partitioned_by:
        parts.append(f"PARTITIONED BY (\n{_column_list(spec.partitioned_by)}\n)")
    parts.append(_storage_clause(spec))
    parts.append(f"LOCATION {quote_literal(spec.location, 'hive')}")
    props = table_properties(spec)
    if props:
        inner = ", ".join(
            f"{quote_literal(k, 'hive')}={quote_literal(v, 'hive')}" for k, v in props.items()
        )
        parts.append(f"TBLPROPERTIES ({inner})")
    return "\n".join(parts)


def hive_drop_table(name: str, *, database: str | None = None, if_exists: bool = True) -> str:
    """``DROP TABLE [IF EXISTS] `db`.`name``` (drops metadata only for external tables)."""
    exists = " IF EXISTS" if if_exists else ""
    return f"DROP TABLE{exists} {quote_qualified([database, name], 'hive')}"


def hive_add_partitions(
    name: str,
    partitions: list[tuple[dict[str, Any], str | None]],
    *,
    database: str | None = None,
) -> str:
    """``ALTER TABLE ... ADD IF NOT EXISTS PARTITION (k='v') LOCATION '...'`` for each
    ``(values, location)``; values are quoted literals, keys validated names."""
    if not partitions:
        raise ValueError("no partitions to add")
    clauses = []
    for values, location in partitions:
        spec = ", ".join(
            f"{quote_identifier(k, 'hive')}={quote_literal(v, 'hive')}" for k, v in values.items()
        )
        clause = f"PARTITION ({spec})"
        if location:
            clause += f" LOCATION {quote_literal(location, 'hive')}"
        clauses.append(clause)
    target = quote_qualified([database, name], "hive")
    return f"ALTER TABLE {target} ADD IF NOT EXISTS\n" + "\n".join(clauses)


def hive_repair_table(name: str, *, database: str | None = None) -> str:
    """``MSCK REPAIR TABLE `db`.`name``` (loads hive-style partition folders)."""
    return f"MSCK REPAIR TABLE {quote_qualified([database, name], 'hive')}"


def hive_create_database(name: str, *, location: str | None = None) -> str:
    """``CREATE DATABASE IF NOT EXISTS `name` [LOCATION '...']``."""
    sql = f"CREATE DATABASE IF NOT EXISTS {quote_identifier(name, 'hive')}"
    if location:
        sql += f" LOCATION {quote_literal(location, 'hive')}"
    return sql


def partition_path(values: dict[str, Any]) -> str:
    """The hive-style folder of a partition: ``dt=2024-01-01/region=eu/``.

    Values must not contain ``/`` or start with ``.`` (they become folder names)."""
    parts = []
    for key, value in values.items():
        text = str(value)
        unsafe = any(ord(c) < 32 for c in text) or "/" in text or "\\" in text
        if not text or unsafe or text.startswith("."):
            raise ValueError(f"partition value {text!r} of {key!r} cannot be a folder name")
        parts.append(f"{check_name(key, 'partition column')}={text}")
    return "/".join(parts) + "/"


def _check_partition_values(values: dict[str, Any]) -> dict[str, Any]:
    partition_path(values)
    return values


PartitionValues = Annotated[dict[Identifier, str | int], AfterValidator(_check_partition_values)]
"""One partition's values by column: names validated, values usable as folder names."""
