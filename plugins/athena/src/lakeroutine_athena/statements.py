"""CTAS, the Athena statement that is Trino SQL rather than Hive DDL: every name is
validated and quoted and every literal quoted (see lakeroutine.sql.tables)."""

from __future__ import annotations

from lakeroutine.sql.tables import quote_literal, quote_qualified

CTAS_FORMATS = {
    "parquet": "PARQUET",
    "orc": "ORC",
    "json": "JSON",
    "csv": "TEXTFILE",
    "avro": "AVRO",
}


def ctas(
    table: str,
    query: str,
    *,
    database: str,
    location: str,
    file_format: str,
    partitioned_by: list[str],
) -> str:
    """``CREATE TABLE "db"."t" WITH (format=..., external_location=..., partitioned_by=...)
    AS <query>``: the query's result written to ``location`` as a new table; ``file_format``
    iceberg writes an Iceberg table there (Parquet files, ``partitioning`` by transforms)."""
    if file_format == "iceberg":
        options = [
            f"table_type = {quote_literal('ICEBERG', 'trino')}",
            "is_external = false",
            f"location = {quote_literal(location, 'trino')}",
            f"format = {quote_literal('PARQUET', 'trino')}",
        ]
        partition_option = "partitioning"
    else:
        options = [
            f"format = {quote_literal(CTAS_FORMATS[file_format], 'trino')}",
            f"external_location = {quote_literal(location, 'trino')}",
        ]
        partition_option = "partitioned_by"
    if file_format == "csv":
        options.append(f"field_delimiter = {quote_literal(',', 'trino')}")
    if partitioned_by:
        names = ", ".join(quote_literal(name, "trino") for name in partitioned_by)
        options.append(f"{partition_option} = ARRAY[{names}]")
    target = quote_qualified([database, table], "trino")
    return f"CREATE TABLE {target}\nWITH (\n  " + ",\n  ".join(options) + f"\n)\nAS\n{query}"
