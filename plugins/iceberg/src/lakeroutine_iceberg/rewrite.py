"""Rewriting a group of small data files into files of a target size, for compaction.

Where every file is a local Parquet file of the table's current partition spec, with no
delete files, a column layout DuckDB can write, and names stable across the table's
schemas, one DuckDB ``COPY`` reads them and writes the new files in a single parallel pass
(the Iceberg field ids set, the table's codec, files cut at the target size on disk, rows in
no particular order); the new files' statistics are read from their footers, as pyiceberg's
``add_files`` does. The COPY binds its columns on the first file's footer where that file
holds every column of the table (DuckDB refuses a later file that lacks one, and the COPY is
then made again reading every footer first, ``union_by_name``), instead of reading all
1,000 footers one after another before the scan starts.
Anything else goes through pyiceberg's own reader and writer.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

from lakeroutine.sql.tables import quote_identifier, quote_literal

from lakeroutine_iceberg.reading import names_are_stable, read_tasks

_DUCKDB_TYPES = {
    "boolean": "BOOLEAN",
    "int": "INTEGER",
    "long": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",
    "string": "VARCHAR",
    "binary": "BLOB",
}
_CODECS = {"zstd", "snappy", "gzip", "uncompressed", "brotli", "lz4_raw"}


def _local_path(location: str) -> str | None:
    if location.startswith("file://"):
        return location[len("file://") :]
    return location if location.startswith("/") else None


def _duckdb_columns(schema: Any) -> list[tuple[str, int, str]] | None:
    """(name, field id, DuckDB type) of each column, or None if one has another type."""
    columns = []
    for field in schema.fields:
        duck = _DUCKDB_TYPES.get(str(field.field_type))
        if duck is None:
            return None
        columns.append((field.name, field.field_id, duck))
    return columns


def duckdb_can_rewrite(table: Any, tasks: list[Any]) -> bool:
    """Whether :func:`rewrite_with_duckdb` can rewrite ``tasks`` (see the module's note)."""
    from pyiceberg.table import TableProperties

    codec = table.properties.get(
        TableProperties.PARQUET_COMPRESSION, TableProperties.PARQUET_COMPRESSION_DEFAULT
    )
    return (
        codec in _CODECS
        and _local_path(table.location()) is not None
        and _duckdb_columns(table.schema()) is not None
        and names_are_stable(table)
        and all(
            not t.delete_files
            and str(t.file.file_format).upper().endswith("PARQUET")
            and t.file.spec_id == table.spec().spec_id
            and _local_path(t.file.file_path) is not None
            for t in tasks
        )
    )


def _copy_options(table: Any, columns: list[tuple[str, int, str]], target_bytes: int) -> str:
    """DuckDB ``COPY`` options writing Parquet as the table's properties ask."""
    from pyiceberg.table import TableProperties

    props = table.properties
    ids = ", ".join(f"{quote_literal(name, 'duckdb')}: {field_id}" for name, field_id, _ in columns)
    row_group = props.get(
        TableProperties.PARQUET_ROW_GROUP_LIMIT, TableProperties.PARQUET_ROW_GROUP_LIMIT_DEFAULT
    )
    options = [
        "FORMAT parquet",
        f"COMPRESSION {props.get(TableProperties.PARQUET_COMPRESSION, 'zstd')}",
        f"FIELD_IDS {{{ids}}}",
        f"FILE_SIZE_BYTES {int(target_bytes)}",
        f"ROW_GROUP_SIZE {int(row_group)}",
    ]
    level = props.get(TableProperties.PARQUET_COMPRESSION_LEVEL)
    if level is not None:
        options.append(f"COMPRESSION_LEVEL {int(level)}")
    return ", ".join(options)


def rewrite_with_duckdb(
    table: Any, tasks: list[Any], target_bytes: int, folder_name: str
) -> list[Any]:
    """The rows of ``tasks`` written by DuckDB into ``data/<folder_name>/`` under the
    table's location, in files of about ``target_bytes``; their DataFiles."""
    import duckdb

    columns = _duckdb_columns(table.schema()) or []
    folder = os.path.join(_local_path(table.location()) or "", "data", folder_name)
    paths = [_local_path(t.file.file_path) or "" for t in tasks]
    os.makedirs(os.path.dirname(folder), exist_ok=True)  # DuckDB makes only the last folder
    con = duckdb.connect()
    try:
        con.execute("SET parquet_metadata_cache = true")  # the footers are read once
        con.execute("SET preserve_insertion_order = false")  # rows need no order: parallel write

        def copy(union_by_name: bool) -> None:
            _copy(con, table, columns, paths, folder, target_bytes, union_by_name)

        first = _columns_of(con, _source(paths[:1], union_by_name=False))
        if not (all(name in first for name, _, _ in columns) and _copied(copy, folder)):
            copy(True)
    finally:
        con.close()
    partition = tasks[0].file.partition
    return [
        _data_file(table, os.path.join(folder, name), partition)
        for name in sorted(os.listdir(folder))
    ]


def _copied(copy: Callable[[bool], None], folder: str) -> bool:
    """The fast COPY, its columns bound on the first file's footer alone (the caller checked
    that file holds every column of the table: a later file can only lack one, and DuckDB
    then refuses). False, and nothing kept, where DuckDB refused."""
    import duckdb

    try:
        copy(False)
    except duckdb.Error:
        shutil.rmtree(folder, ignore_errors=True)
        return False
    return True


def _source(paths: list[str], union_by_name: bool) -> str:
    listed = ", ".join(quote_literal(path, "duckdb") for path in paths)
    return f"read_parquet([{listed}], union_by_name = {str(union_by_name).lower()})"


def _columns_of(con: Any, source: str) -> set[str]:
    return {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}


def _copy(
    con: Any,
    table: Any,
    columns: list[tuple[str, int, str]],
    paths: list[str],
    folder: str,
    target_bytes: int,
    union_by_name: bool,
) -> None:
    """One COPY of ``paths`` into ``folder``: the table's columns, cast to its types."""
    source = _source(paths, union_by_name)
    present = _columns_of(con, source) if union_by_name else {name for name, _, _ in columns}
    select = ", ".join(
        f"CAST({quote_identifier(name, 'duckdb') if name in present else 'NULL'} AS {duck})"
        f" AS {quote_identifier(name, 'duckdb')}"  # a column added since: null
        for name, _id, duck in columns
    )
    con.execute(
        f"COPY (SELECT {select} FROM {source}) TO {quote_literal(folder, 'duckdb')} "
        f"({_copy_options(table, columns, target_bytes)})"
    )


def _data_file(table: Any, path: str, partition: Any) -> Any:
    """The DataFile of a Parquet file written for ``table`` (statistics from its footer)."""
    import pyarrow.parquet as pq
    from pyiceberg.io.pyarrow import (
        compute_statistics_plan,
        data_file_statistics_from_parquet_metadata,
        parquet_path_to_id_mapping,
    )
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat

    schema = table.schema()
    statistics = data_file_statistics_from_parquet_metadata(
        parquet_metadata=pq.read_metadata(path),
        stats_columns=compute_statistics_plan(schema, table.properties),
        parquet_column_mapping=parquet_path_to_id_mapping(schema),
    )
    return DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=f"file://{path}" if table.location().startswith("file://") else path,
        file_format=FileFormat.PARQUET,
        partition=partition,
        file_size_in_bytes=os.path.getsize(path),
        sort_order_id=None,
        spec_id=table.spec().spec_id,
        equality_ids=None,
        key_metadata=None,
        **statistics.to_serialized_dict(),
    )


def rewrite_with_pyiceberg(
    table: Any, sized_metadata: Any, tasks: list[Any], commit_uuid: Any
) -> list[Any]:
    """The rows of ``tasks`` read and written by pyiceberg (any file, any type)."""
    from pyiceberg.io.pyarrow import _dataframe_to_data_files

    data = read_tasks(table, tasks, table.schema())
    return list(_dataframe_to_data_files(sized_metadata, data, table.io, write_uuid=commit_uuid))
