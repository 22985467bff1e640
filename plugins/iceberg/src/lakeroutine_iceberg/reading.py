"""Reading a table's data files into Arrow: straight through pyarrow's dataset reader
(multi-threaded, one pass) when every file can be read by column name, else through
pyiceberg's ``ArrowScan`` (field ids, renames, delete files)."""

from __future__ import annotations

from typing import Any


def names_are_stable(table: Any) -> bool:
    """Whether each field id has had one name, and each name one field id, in every schema
    the table has had (no rename, no name dropped and added again), so files written under
    any of them can be read by name."""
    names: dict[int, str] = {}
    ids: dict[str, int] = {}
    for schema in table.schemas().values():
        for field in schema.fields:
            if names.setdefault(field.field_id, field.name) != field.name:
                return False
            if ids.setdefault(field.name, field.field_id) != field.field_id:
                return False
    return True


def _path(location: str) -> str:
    return location.removeprefix("file://")


def read_tasks(table: Any, tasks: list[Any], schema: Any | None = None) -> Any:
    """The rows of ``tasks`` (scan tasks of ``table``) under ``schema`` (default: the
    table's current one) as one Arrow table."""
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan

    schema = schema or table.schema()
    plain = (
        tasks
        and names_are_stable(table)
        and all(
            not t.delete_files and str(t.file.file_format).upper().endswith("PARQUET")
            for t in tasks
        )
        and all(t.file.file_path.startswith(("file://", "/")) for t in tasks)
    )
    if plain:
        import pyarrow.dataset as ds

        arrow_schema = schema.as_arrow()
        dataset = ds.dataset(
            [_path(t.file.file_path) for t in tasks], format="parquet", schema=arrow_schema
        )
        return dataset.to_table()
    return ArrowScan(table.metadata, table.io, schema, AlwaysTrue()).to_table(tasks)
