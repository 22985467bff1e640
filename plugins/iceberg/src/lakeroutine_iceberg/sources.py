"""The rows a task commits: staged Parquet files (listed, checked against the table's
schema, read) or a query's result, cast to the table's Arrow schema without loss."""

from __future__ import annotations

from typing import Any

from lakeroutine.errors import TaskError

from lakeroutine_iceberg.targets import Target


def list_parquet(target: Target, location: str) -> list[str]:
    """Every ``.parquet`` file at or below ``location``, as full URLs or paths, sorted."""
    from pyarrow import fs

    filesystem, path = target.filesystem(location)
    info = filesystem.get_file_info(path.rstrip("/"))
    prefix = "s3://" if location.startswith("s3://") else ""
    if info.type == fs.FileType.File:
        return [prefix + info.path]
    if info.type == fs.FileType.NotFound:
        raise TaskError(f"no staged files at {location}")
    found = filesystem.get_file_info(fs.FileSelector(path.rstrip("/"), recursive=True))
    files = sorted(
        prefix + f.path
        for f in found
        if f.type == fs.FileType.File
        and f.base_name.endswith(".parquet")
        and not f.base_name.startswith((".", "_"))
    )
    if not files:
        raise TaskError(f"no .parquet files under {location}")
    return files


def fingerprint(target: Target, files: list[str]) -> list[tuple[str, int]]:
    """Each file with its size: what a commit of these files is recognised by."""
    result = []
    for name in files:
        filesystem, path = target.filesystem(name)
        result.append((name, filesystem.get_file_info(path).size))
    return result


def _plain(arrow_type: Any) -> Any:
    import pyarrow as pa

    if pa.types.is_large_string(arrow_type):
        return pa.string()
    if pa.types.is_large_binary(arrow_type):
        return pa.binary()
    return arrow_type


def matches_schema(file_schema: Any, table_schema: Any) -> bool:
    """Whether a staged file can be registered as is: same columns, same types, and the
    table's required (key) columns required in the file too."""
    if sorted(file_schema.names) != sorted(table_schema.names):
        return False
    for field in table_schema:
        theirs = file_schema.field(field.name)
        if _plain(theirs.type) != _plain(field.type):
            return False
        if theirs.nullable and not field.nullable:  # a key column: Iceberg wants it required
            return False
    return True


def file_schema(target: Target, name: str) -> Any:
    import pyarrow.parquet as pq

    filesystem, path = target.filesystem(name)
    return pq.read_schema(path, filesystem=filesystem)


def read_files(target: Target, files: list[str]) -> Any:
    """The rows of ``files`` as one Arrow table (schemas unified by name)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for name in files:
        filesystem, path = target.filesystem(name)
        tables.append(pq.read_table(path, filesystem=filesystem))
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def run_query(target: Target, sql: str) -> Any:
    """A query's rows as Arrow, on the target's DuckDB (Iceberg tables readable by name)."""
    from lakeroutine_iceberg.time_travel import run_with_iceberg

    return run_with_iceberg(target, sql)


def conform(rows: Any, table_schema: Any, table_label: str) -> Any:
    """``rows`` cast to the table's Arrow schema: missing optional columns become nulls; an
    unknown column, a missing required one or a cast that loses data is a TaskError."""
    import pyarrow as pa

    names = {n.lower(): n for n in rows.column_names}
    unknown = sorted(set(names) - set(table_schema.names))
    if unknown:
        raise TaskError(f"column(s) {', '.join(unknown)} are not in table {table_label}")
    columns = []
    for field in table_schema:
        if field.name not in names:
            if not field.nullable:
                raise TaskError(f"required column {field.name!r} of {table_label} is missing")
            columns.append(pa.nulls(rows.num_rows, field.type))
            continue
        column = rows.column(names[field.name])
        try:
            cast = column.cast(field.type, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise TaskError(
                f"column {field.name!r}: {column.type} does not fit {field.type} of "
                f"{table_label} without loss ({exc})"
            ) from None
        if not field.nullable and cast.null_count:
            raise TaskError(f"required column {field.name!r} of {table_label} has nulls")
        columns.append(cast)
    return pa.Table.from_arrays(columns, schema=table_schema)
