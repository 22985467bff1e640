"""The Redshift statements each task sends, built from validated args (see ``sql``)."""

from __future__ import annotations

import hashlib

from lakeroutine_redshift.models import CopyArgs, CsvOptions, RedshiftTable, TableRef, UnloadArgs
from lakeroutine_redshift.sql import column_list, ident, literal, qualified


def create_schema(schema: str) -> str:
    """``CREATE SCHEMA IF NOT EXISTS`` with the name quoted."""
    return f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}"


def create_table(table: RedshiftTable) -> str:
    """``CREATE TABLE IF NOT EXISTS`` with table-level DISTSTYLE / DISTKEY / SORTKEY."""
    columns = []
    for column in table.columns:
        text = f"{ident(column.name)} {column.type}"
        if not column.nullable:
            text += " NOT NULL"
        if column.encode:
            text += f" ENCODE {column.encode.upper()}"
        columns.append(text)
    sql = (
        f"CREATE TABLE IF NOT EXISTS {qualified(table.schema_, table.name)} ({', '.join(columns)})"
    )
    diststyle = table.diststyle or ("key" if table.distkey else None)
    if diststyle:
        sql += f" DISTSTYLE {diststyle.upper()}"
    if table.distkey:
        sql += f" DISTKEY({ident(table.distkey)})"
    if table.sortkey:
        sql += f" {table.sortkey_style.upper()} SORTKEY({column_list(table.sortkey)})"
    return sql


def stage_name(table: TableRef) -> str:
    """A work table beside ``table`` for overwrite/upsert; the same on every rerun, so a
    rerun finds (and drops) what a killed run left."""
    tag = hashlib.sha256(f"{table.schema_}.{table.name}".encode()).hexdigest()[:8]
    return f"{table.name[:100]}_lr_stage_{tag}"


def copy(target: str, args: CopyArgs) -> str:
    """``COPY target FROM 's3://...' IAM_ROLE '...' FORMAT AS ...``."""
    sql = f"COPY {target} FROM {literal(args.source)} IAM_ROLE {literal(args.iam_role)}"
    if args.format == "parquet":
        sql += " FORMAT AS PARQUET"
    else:
        csv = args.csv or CsvOptions()
        sql += f" FORMAT AS CSV DELIMITER {literal(csv.delimiter)} QUOTE {literal(csv.quote)}"
        if csv.header:
            sql += " IGNOREHEADER 1"
        if csv.null_as is not None:
            sql += f" NULL AS {literal(csv.null_as)}"
    if args.region:
        sql += f" REGION {literal(args.region)}"
    return sql


def load(args: CopyArgs) -> list[str | list[str]]:
    """The steps of ``copy_from_s3`` for its mode, in order; a list is one transaction.

    append: one COPY. overwrite and upsert COPY into a work table first (bad files fail
    there, the target untouched), then in one transaction replace all rows, or the rows
    matching ``keys``, and drop the work table: readers never see the target half-loaded.
    """
    target = qualified(args.table.schema_, args.table.name)
    if args.mode == "append":
        return [copy(target, args)]
    stage = qualified(args.table.schema_, stage_name(args.table))
    if args.mode == "overwrite":
        delete = f"DELETE FROM {target}"
    else:
        match = " AND ".join(f"{target}.{ident(k)} = {stage}.{ident(k)}" for k in args.keys)
        delete = f"DELETE FROM {target} USING {stage} WHERE {match}"
    return [
        f"DROP TABLE IF EXISTS {stage}",
        f"CREATE TABLE {stage} (LIKE {target})",
        copy(stage, args),
        [delete, f"INSERT INTO {target} SELECT * FROM {stage}", f"DROP TABLE {stage}"],
    ]


def unload(args: UnloadArgs) -> str:
    """``UNLOAD ('query') TO 's3://...' IAM_ROLE '...' FORMAT AS ...``."""
    query = args.query.strip().rstrip(";").strip()
    sql = (
        f"UNLOAD ({literal(query)}) TO {literal(args.destination)} "
        f"IAM_ROLE {literal(args.iam_role)}"
    )
    if args.format == "parquet":
        sql += " FORMAT AS PARQUET"
    else:
        sql += f" FORMAT AS CSV DELIMITER AS {literal(args.delimiter)}"
        if args.header:
            sql += " HEADER"
    if args.partition_by:
        sql += f" PARTITION BY ({column_list(args.partition_by)})"
    if args.allow_overwrite:
        sql += " ALLOWOVERWRITE"
    return sql
