"""Reading a query's rows back from Athena (page by page) and writing them to a file."""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeroutine.context import TaskContext

_INTEGERS = {"tinyint", "smallint", "integer", "int", "bigint"}
_FLOATS = {"double", "float", "real"}


def _convert(value: str | None, athena_type: str) -> Any:
    """A cell as JSON would want it: numbers and booleans typed, decimals kept as text
    (no precision lost), NULL as None."""
    if value is None:
        return None
    kind = athena_type.lower()
    try:
        if kind in _INTEGERS:
            return int(value)
        if kind in _FLOATS:
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return value.lower() == "true"
    return value


class ResultReader:
    """Iterates the rows of a finished query, following ``NextToken`` across pages."""

    def __init__(self, client: Any, query_id: str, page_size: int = 1000) -> None:
        self.client = client
        self.query_id = query_id
        self.page_size = page_size
        self.columns: list[str] = []
        self.types: list[str] = []

    def rows(self) -> Iterator[list[Any]]:
        """Each row as a list of typed values; the header row Athena puts first is
        skipped."""
        paginator = self.client.get_paginator("get_query_results")
        pages = paginator.paginate(
            QueryExecutionId=self.query_id, PaginationConfig={"PageSize": self.page_size}
        )
        first = True
        for page in pages:
            result = page["ResultSet"]
            if first:
                info = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
                self.columns = [c.get("Label") or c["Name"] for c in info]
                self.types = [c.get("Type", "varchar") for c in info]
            for row in result.get("Rows", []):
                values = [cell.get("VarCharValue") for cell in row.get("Data", [])]
                if first:
                    first = False
                    if values == self.columns:
                        continue
                types = self.types or ["varchar"] * len(values)
                yield [_convert(v, t) for v, t in zip(values, types, strict=False)]
            first = False


def _csv_cell(value: Any) -> Any:
    """A value as Athena and DuckDB write it in CSV: NULL empty, booleans lowercase."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def write_rows(path: Path, columns: list[str], rows: Iterator[list[Any]]) -> int:
    """Write ``rows`` to ``path`` as CSV (with a header), JSON (an array of objects) or
    JSON lines, by suffix; returns how many rows were written."""
    suffix = path.suffix.lower()
    count = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        if suffix == ".csv":
            writer = csv.writer(out)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_csv_cell(v) for v in row])
                count += 1
        elif suffix == ".jsonl":
            for row in rows:
                out.write(json.dumps(dict(zip(columns, row, strict=False))) + "\n")
                count += 1
        else:
            out.write("[")
            for row in rows:
                out.write(("," if count else "") + "\n")
                out.write(json.dumps(dict(zip(columns, row, strict=False))))
                count += 1
            out.write("\n]\n")
    return count


def save_rows(ctx: TaskContext, reader: ResultReader, target: str, preview: int) -> dict[str, Any]:
    """Write the query's rows to ``target`` (local or an installed storage's URL), atomic;
    returns the row count, the columns and the first ``preview`` rows."""
    kept: list[list[Any]] = []

    def counted() -> Iterator[list[Any]]:
        for row in reader.rows():
            if len(kept) < preview:
                kept.append(row)
            yield row

    storage = ctx.run.storage_for(target)
    with tempfile.TemporaryDirectory(prefix="lakeroutine-athena-") as tmp:
        local = Path(tmp) / f"rows{Path(target).suffix.lower()}"
        rows = _write_after_first(local, reader, counted())
        storage.upload(local, target)
    return {"rows": rows, "columns": reader.columns, "preview": kept, "output": target}


def _write_after_first(local: Path, reader: ResultReader, rows: Iterator[list[Any]]) -> int:
    """Column names are known once the first page is read: pull it before writing."""
    first = next(rows, None)

    def chained() -> Iterator[list[Any]]:
        if first is not None:
            yield first
        yield from rows

    return write_rows(local, reader.columns, chained())


def preview_rows(reader: ResultReader, preview: int) -> dict[str, Any]:
    """The first ``preview`` rows and the columns, without an output file."""
    kept: list[list[Any]] = []
    if preview:
        for row in reader.rows():
            kept.append(row)
            if len(kept) >= preview:
                break
    return {"columns": reader.columns, "preview": kept}
