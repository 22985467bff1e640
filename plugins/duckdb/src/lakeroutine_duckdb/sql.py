"""DuckDB SQL for table specs: a view over a folder's files, typed as the spec says.

The view reads the files at query time (``read_parquet``/``read_csv``/``read_json`` with
``hive_partitioning``), so files added later are seen, as on Athena. Every name is
validated and quoted and every literal quoted (lakeroutine.sql.tables).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lakeroutine.sql.tables import TableSpec, parse_type, quote_identifier, quote_literal

GLOBS = {"parquet": "*.parquet", "csv": "*.csv", "json": "*.json*"}
READERS = {"parquet": "read_parquet", "csv": "read_csv", "json": "read_json"}


def files_glob(location: str, file_format: str) -> str:
    """Every file of the format below ``location``, partition folders included."""
    return location.rstrip("/") + "/**/" + GLOBS[file_format]


def _struct(columns: dict[str, str]) -> str:
    """``{'name': 'VARCHAR', ...}``: the ``columns`` option of read_csv/read_json."""
    items = ", ".join(
        f"{quote_literal(name, 'duckdb')}: {quote_literal(parse_type(t).duckdb(), 'duckdb')}"
        for name, t in columns.items()
    )
    return "{" + items + "}"


def reader(spec: TableSpec) -> str:
    """The table function that reads the spec's files."""
    glob = quote_literal(files_glob(spec.location, spec.format), "duckdb")
    hive = "hive_partitioning = true"
    if spec.format == "parquet":
        return f"read_parquet({glob}, {hive}, union_by_name = true)"
    if spec.format == "json":
        return (
            f"read_json({glob}, format = 'newline_delimited', "
            f"columns = {_struct(spec.columns)}, {hive})"
        )
    options = [
        glob,
        f"delim = {quote_literal(spec.delimiter or ',', 'duckdb')}",
        f"header = {'true' if spec.header_lines else 'false'}",
        f"columns = {_struct(spec.columns)}",
        hive,
    ]
    if spec.header_lines > 1:
        options.append(f"skip = {spec.header_lines - 1}")
    # Without a quote character Athena's LazySimpleSerDe keeps quotes as data: so does this
    quote = spec.quote or ""
    options.append(f"quote = {quote_literal(quote, 'duckdb')}")
    if not quote:
        options.append("escape = ''")
    return f"read_csv({', '.join(options)})"


def create_view(spec: TableSpec, *, target: str, replace: bool) -> str:
    """``CREATE [OR REPLACE] VIEW <target> AS SELECT CAST(...) ... FROM <reader>``, where
    ``target`` is the view's quoted, qualified name."""
    casts = ",\n  ".join(
        f"CAST({quote_identifier(name, 'duckdb')} AS {parse_type(t).duckdb()}) "
        f"AS {quote_identifier(name, 'duckdb')}"
        for name, t in spec.all_columns.items()
    )
    head = "CREATE OR REPLACE VIEW" if replace else "CREATE VIEW"
    return f"{head} {target} AS\nSELECT\n  {casts}\nFROM {reader(spec)}"


def copy_options(
    file_format: str, *, partitioned_by: Sequence[str] = (), array: bool = False
) -> str:
    """The options of ``COPY ... TO``: format, header for CSV, partition columns."""
    options = [f"FORMAT {file_format}"]
    if file_format == "csv":
        options.append("HEADER true")
    if file_format == "json" and array:
        options.append("ARRAY true")
    if partitioned_by:
        names = ", ".join(quote_identifier(n, "duckdb") for n in partitioned_by)
        options.append(f"PARTITION_BY ({names})")
    return "(" + ", ".join(options) + ")"


# What Athena runs, by DuckDB statement type; everything else (ATTACH, COPY, INSTALL/LOAD,
# PRAGMA, SET, CALL, EXPORT, transactions, macros, secrets...) Athena refuses, so the twin does.
ATHENA_TYPES = {"SELECT", "EXPLAIN", "INSERT", "CREATE", "DROP", "ALTER", "UPDATE", "DELETE"}
ATHENA_FIRST_WORDS = {
    "SELECT", "WITH", "VALUES", "SHOW", "DESCRIBE", "EXPLAIN", "INSERT", "CREATE", "DROP",
    "ALTER", "UPDATE", "DELETE",
}  # fmt: skip
QUERY_FIRST_WORDS = {"SELECT", "WITH", "VALUES"}
_LEADING = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.S)
_ATHENA_CREATE = re.compile(
    r"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:EXTERNAL\s+)?(?:TABLE|VIEW|DATABASE|SCHEMA)\b", re.I
)


def check_athena_statement(statements: Sequence[tuple[str, str]], *, query_only: bool) -> None:
    """Refuse what Athena would: anything but exactly one statement, a statement type Athena
    does not run, and (``query_only``, for ``output`` and ``ctas``) anything but a query.
    ``statements`` are DuckDB's parse of the text: (type name, text) pairs."""
    if len(statements) != 1:
        raise ValueError(
            f"runs exactly one statement, as Athena does; this SQL holds {len(statements)}"
        )
    kind, text = statements[0]
    body = _LEADING.sub("", text)
    first = body.split(None, 1)[0].upper().rstrip(";") if body.strip() else ""
    allowed = QUERY_FIRST_WORDS if query_only else ATHENA_FIRST_WORDS
    if kind not in ATHENA_TYPES or first not in allowed:
        what = "a query (SELECT, WITH or VALUES)" if query_only else "a statement Athena runs"
        raise ValueError(f"{first or kind} is not {what}")
    if query_only and kind != "SELECT":
        raise ValueError(f"{kind} is not a query (SELECT, WITH or VALUES)")
    if kind == "CREATE" and not _ATHENA_CREATE.match(body):
        raise ValueError("Athena creates only tables, views and databases")


def tables_read(tree: Any, schema: str) -> list[str]:
    """The tables (``schema.table``) a statement reads, from DuckDB's ``json_serialize_sql``
    tree: every base table, less the names its WITH clauses define."""
    found: set[tuple[str, str]] = set()
    ctes: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and node.get("table_name"):
                found.add((node.get("schema_name") or "", node["table_name"]))
            for entry in (node.get("cte_map") or {}).get("map", []):
                ctes.add(str(entry.get("key", "")).lower())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return sorted(
        f"{owner or schema}.{table}" for owner, table in found if owner or table.lower() not in ctes
    )
