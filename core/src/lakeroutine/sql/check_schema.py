"""The ``schema`` check's catalog side: the query listing a table's columns and types per
dialect, and how each catalog spells a table spec's (Hive) type, so the found and the
expected types compare on DuckDB, Athena and Redshift alike."""

from __future__ import annotations

import re

from lakeroutine.sql.check_sql import CheckDialect, literal
from lakeroutine.sql.tables import parse_type

_REDSHIFT_FAMILIES = {
    "int": "integer", "int4": "integer", "integer": "integer",
    "bigint": "bigint", "int8": "bigint",
    "smallint": "smallint", "int2": "smallint", "tinyint": "smallint",
    "charactervarying": "varchar", "varchar": "varchar", "nvarchar": "varchar", "text": "varchar",
    "string": "varchar", "character": "char", "char": "char", "nchar": "char", "bpchar": "char",
    "doubleprecision": "double", "double": "double", "float8": "double", "float": "double",
    "real": "real", "float4": "real",
    "boolean": "boolean", "bool": "boolean",
    "timestamp": "timestamp", "timestampwithouttimezone": "timestamp",
    "timestamptz": "timestamptz", "timestampwithtimezone": "timestamptz",
    "date": "date", "super": "super",
}  # fmt: skip
"""Redshift's type names and their aliases, by family (svv_columns spells the long form)."""


def schema_query(schema: str, table: str, dialect: CheckDialect) -> str:
    """The table's columns and types from the catalog (no data read)."""
    where = f"table_schema = {literal(schema, dialect)} AND table_name = {literal(table, dialect)}"
    if dialect == "duckdb":
        return (
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_catalog = current_database() AND {where} ORDER BY ordinal_position"
        )
    if dialect == "redshift":  # svv_columns sees external (Spectrum) tables too
        numeric = "'numeric(' || numeric_precision || ',' || numeric_scale || ')'"
        return (
            "SELECT column_name, CASE WHEN data_type IN ('numeric', 'decimal') "
            f"AND numeric_precision IS NOT NULL THEN {numeric} ELSE data_type END AS data_type "
            f"FROM svv_columns WHERE {where} ORDER BY ordinal_position"
        )
    return (
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE {where} ORDER BY ordinal_position"
    )


def expected_type(hive_type: str, dialect: CheckDialect) -> str | None:
    """How the catalog of ``dialect`` spells a table spec's type, compared loosely."""
    parsed = parse_type(hive_type)
    if dialect == "duckdb":
        return normal_type(parsed.duckdb())
    if dialect == "trino":
        return normal_type(parsed.trino())
    if parsed.kind in ("array", "map", "struct"):
        return "super"  # Redshift keeps nested values as SUPER
    if parsed.hive() == "float":
        return "real"  # Hive's float is 4 bytes; Redshift's FLOAT means double precision
    return found_type(parsed.hive(), dialect)


def found_type(text: str, dialect: CheckDialect) -> str:
    """A type as a catalog of ``dialect`` reports it, in the form :func:`expected_type`
    gives: on Redshift aliases fold into their family (``int4``, ``integer``; a length
    is not compared: ``character varying(256)`` is ``varchar``; decimals keep precision)."""
    normal = normal_type(text)
    if dialect != "redshift":
        return normal
    decimal = re.fullmatch(r"(?:numeric|decimal)(\(\d+,\d+\))?", normal)
    if decimal:
        return f"decimal{decimal.group(1) or ''}"
    base = re.sub(r"\(\d+\)$", "", normal)
    return _REDSHIFT_FAMILIES.get(base, base)


def normal_type(text: str) -> str:
    """A catalog's type name, compared loosely: lower case, no blanks or quotes."""
    return "".join(str(text).lower().replace('"', "").split())
