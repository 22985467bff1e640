"""Athena's SQL for each Iceberg task, every name and literal quoted (no boto3 here).

Athena writes Iceberg with SQL only: a staged folder becomes a temporary external table
(no data is copied to create it), then ``INSERT`` / ``MERGE`` / ``DELETE`` read from it.
Writes are cut into batches of partitions below Athena's 100 open writers; table upkeep is
``OPTIMIZE ... REWRITE DATA USING BIN_PACK`` and ``VACUUM`` (expiry and orphan removal).
"""

from __future__ import annotations

from lakeroutine.sql.iceberg import IcebergTableSpec, PartitionField
from lakeroutine.sql.tables import (
    TableSpec,
    hive_create_table,
    parse_type,
    quote_identifier,
    quote_literal,
    quote_qualified,
    sql_value,
)

MAX_OPEN_PARTITIONS = 100
"""Athena fails a write with ICEBERG_TOO_MANY_OPEN_PARTITIONS past 100 partitions."""


def _q(name: str) -> str:
    return quote_identifier(name, "trino")


def _hive_transform(field: PartitionField) -> str:
    column = quote_identifier(field.source, "hive")
    if field.transform == "identity":
        return column
    if field.width is None:
        return f"{field.transform}({column})"
    return f"{field.transform}({field.width}, {column})"


def create_table(spec: IcebergTableSpec, database: str, location: str) -> str:
    """``CREATE TABLE IF NOT EXISTS ... TBLPROPERTIES ('table_type'='ICEBERG')`` (Hive DDL,
    as Athena takes it for Iceberg); sort order and key columns have no Athena DDL."""
    columns = ",\n".join(
        f"  {quote_identifier(n, 'hive')} {parse_type(t).hive(quoted=True)}"
        for n, t in spec.columns.items()
    )
    parts = [
        f"CREATE TABLE IF NOT EXISTS {quote_qualified([database, spec.name], 'hive')} (\n"
        f"{columns}\n)"
    ]
    if spec.partition_fields:
        inner = ", ".join(_hive_transform(f) for f in spec.partition_fields)
        parts.append(f"PARTITIONED BY ({inner})")
    parts.append(f"LOCATION {quote_literal(location, 'hive')}")
    props = {"table_type": "ICEBERG", "format": "parquet", **spec.properties}
    inner = ", ".join(
        f"{quote_literal(k, 'hive')}={quote_literal(v, 'hive')}" for k, v in props.items()
    )
    parts.append(f"TBLPROPERTIES ({inner})")
    return "\n".join(parts)


def staging_table(name: str, columns: dict[str, str], database: str, location: str) -> str:
    """An external Parquet table over a staged folder (metadata only: no data moves)."""
    spec = TableSpec(name=name, columns=columns, format="parquet", location=location)
    return hive_create_table(spec, database=database)


def drop_table(name: str, database: str) -> str:
    return f"DROP TABLE IF EXISTS {quote_qualified([database, name], 'hive')}"


def partition_expression(field: PartitionField) -> str | None:
    """A Trino expression giving a row's partition value, or None for ``bucket`` (Athena
    has no Iceberg bucket function: its buckets multiply the count instead)."""
    column = _q(field.source)
    if field.transform == "identity":
        return column
    if field.transform in ("year", "month", "day", "hour"):
        return f"date_trunc('{field.transform}', {column})"
    return None  # bucket; truncate depends on the type (partition_expressions)


def partition_expressions(spec_fields: list[PartitionField], columns: dict[str, str]) -> list[str]:
    """The computable partition expressions of a table (bucket left out)."""
    out = []
    for field in spec_fields:
        if field.transform == "truncate":
            column = _q(field.source)
            if parse_type(columns[field.source]).kind == "string":
                out.append(f"substr({column}, 1, {field.width})")
            else:
                out.append(f"({column} - ({column} % {field.width}))")
            continue
        expression = partition_expression(field)
        if expression is not None:
            out.append(expression)
    return out


def distinct_partitions(source: str, expressions: list[str]) -> str:
    """The distinct partition values of a source (to plan batches)."""
    cols = ", ".join(f"CAST({e} AS varchar) AS p{i}" for i, e in enumerate(expressions))
    return f"SELECT DISTINCT {cols} FROM {source}"


def batch_predicate(expressions: list[str], values: list[list[str | None]]) -> str:
    """``(e0 = v AND e1 = w) OR ...`` over one batch of partition values."""
    clauses = []
    for row in values:
        terms = []
        for expression, value in zip(expressions, row, strict=True):
            if value is None:
                terms.append(f"{expression} IS NULL")
            else:
                terms.append(f"CAST({expression} AS varchar) = {sql_value(value, 'trino')}")
        clauses.append("(" + " AND ".join(terms) + ")")
    return " OR ".join(clauses)


def batches(values: list[list[str | None]], size: int) -> list[list[list[str | None]]]:
    return [values[i : i + size] for i in range(0, len(values), size)] or [[]]


def insert(table: str, database: str, columns: list[str], source: str, where: str | None) -> str:
    """``INSERT INTO`` the table the source's rows (of one batch of partitions)."""
    names = ", ".join(_q(c) for c in columns)
    sql = (
        f"INSERT INTO {quote_qualified([database, table], 'trino')} ({names})\n"
        f"SELECT {names} FROM {source}"
    )
    return sql + (f"\nWHERE {where}" if where else "")


def merge(
    table: str, database: str, columns: list[str], keys: list[str], source: str, where: str | None
) -> str:
    """``MERGE INTO`` on the keys: matched rows updated, new rows inserted."""
    target = quote_qualified([database, table], "trino")
    on = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in keys)
    updates = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in columns if c not in keys)
    names = ", ".join(_q(c) for c in columns)
    values = ", ".join(f"s.{_q(c)}" for c in columns)
    selected = f"SELECT {names} FROM {source}" + (f" WHERE {where}" if where else "")
    sql = f"MERGE INTO {target} AS t\nUSING ({selected}) AS s\nON {on}\n"
    if updates:
        sql += f"WHEN MATCHED THEN UPDATE SET {updates}\n"
    return sql + f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"


def delete_missing(table: str, database: str, keys: list[str], source: str) -> str:
    """Delete the table's rows whose key the source lacks."""
    target = quote_qualified([database, table], "trino")
    on = " AND ".join(f"s.{_q(k)} = {target}.{_q(k)}" for k in keys)
    return f"DELETE FROM {target}\nWHERE NOT EXISTS (SELECT 1 FROM {source} AS s WHERE {on})"


def delete_where(table: str, database: str, where: str) -> str:
    return f"DELETE FROM {quote_qualified([database, table], 'trino')} WHERE {where}"


def add_columns(table: str, database: str, columns: dict[str, str]) -> str:
    inner = ", ".join(
        f"{quote_identifier(n, 'hive')} {parse_type(t).hive(quoted=True)}"
        for n, t in columns.items()
    )
    return f"ALTER TABLE {quote_qualified([database, table], 'hive')} ADD COLUMNS ({inner})"


def change_column(table: str, database: str, old: str, new: str, type_name: str) -> str:
    """Rename and/or widen a column (Athena wants the type with every change)."""
    return (
        f"ALTER TABLE {quote_qualified([database, table], 'hive')} CHANGE COLUMN "
        f"{quote_identifier(old, 'hive')} {quote_identifier(new, 'hive')} "
        f"{parse_type(type_name).hive(quoted=True)}"
    )


def set_properties(table: str, database: str, properties: dict[str, str]) -> str:
    inner = ", ".join(
        f"{quote_literal(k, 'hive')}={quote_literal(v, 'hive')}" for k, v in properties.items()
    )
    return f"ALTER TABLE {quote_qualified([database, table], 'hive')} SET TBLPROPERTIES ({inner})"


def optimize(table: str, database: str, where: str | None = None) -> str:
    """Bin-pack compaction (Athena allows a WHERE on partition columns only)."""
    sql = f"OPTIMIZE {quote_qualified([database, table], 'trino')} REWRITE DATA USING BIN_PACK"
    return sql + (f" WHERE {where}" if where else "")


def vacuum(table: str, database: str) -> str:
    """Snapshot expiry and orphan removal per the table's vacuum_* properties."""
    return f"VACUUM {quote_qualified([database, table], 'trino')}"


def small_file_partitions(table: str, database: str, small_bytes: int, min_files: int) -> str:
    """Partitions holding more than ``min_files`` files smaller than ``small_bytes``."""
    checked = quote_identifier(table, "trino")[1:-1]  # validated: no quote can follow
    files = f'{quote_identifier(database, "trino")}."{checked}$files"'
    return (
        f"SELECT CAST(partition AS json) AS p, count(*) AS n FROM {files}\n"
        f"WHERE file_size_in_bytes < {int(small_bytes)} AND content = 0\n"
        f"GROUP BY partition HAVING count(*) > {int(min_files)}"
    )
