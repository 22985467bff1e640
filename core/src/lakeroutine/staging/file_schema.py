"""What a landing file must look like before it is staged: its columns, their types and,
for CSV, its header. A file that drifts (a renamed, missing or extra column, a value of the
wrong type in the rows sampled) is refused, named with the difference, so a partner's
renamed column never reaches the lake.

CSV and JSON lines are read with the standard library (the header and the first
``sample_rows`` rows); Parquet's schema is read from its footer with pyarrow, imported only
when a Parquet file is checked.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lakeroutine.sql.tables import ColumnTypeName, parse_type
from lakeroutine.types import Location

FileFormat = Literal["csv", "json", "parquet"]
_SUFFIXES = {".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json",
             ".parquet": "parquet"}  # fmt: skip
_INTEGERS = {"tinyint", "smallint", "int", "bigint"}


class ExpectedSchema(BaseModel):
    """``expected_schema`` of a staging block: ``columns`` (name -> Hive type, in file
    order), the ``format`` (default: from each file's suffix), for CSV whether a ``header``
    line names the columns and the ``delimiter``; ``extra_columns: allow`` accepts columns
    beyond those listed. ``quarantine_directory`` receives refused files (else they stay in
    landing)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, ColumnTypeName] = Field(min_length=1)
    format: FileFormat | None = None
    header: bool = True
    delimiter: str = Field(",", min_length=1, max_length=1)
    extra_columns: Literal["refuse", "allow"] = "refuse"
    sample_rows: int = Field(100, ge=0, le=100_000, description="Rows whose values are typed")
    quarantine_directory: Location | None = Field(
        None, description="Where drifting files go (default: left in landing)"
    )

    @field_validator("columns")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name.strip() or any(ord(ch) < 32 for ch in name):
                raise ValueError(f"column name {name!r} is empty or holds control characters")
        return value


def file_format(schema: ExpectedSchema, name: str) -> str | None:
    """The format a landing file is checked as (None: not a format the schema covers)."""
    if schema.format is not None:
        return schema.format
    return _SUFFIXES.get(Path(name).suffix.lower())


def drift(schema: ExpectedSchema, path: Path, name: str) -> str | None:
    """How the file at ``path`` differs from ``schema`` (None: it matches)."""
    kind = file_format(schema, name)
    if kind is None:
        return f"not a csv, json or parquet file: set expected_schema.format for {name}"
    try:
        if kind == "parquet":
            return _parquet(schema, path)
        if kind == "csv":
            return _csv(schema, path)
        return _json(schema, path)
    except (UnicodeDecodeError, csv.Error, json.JSONDecodeError) as exc:
        return f"unreadable as {kind}: {type(exc).__name__}: {str(exc)[:200]}"


def _columns(schema: ExpectedSchema, found: list[str]) -> list[str]:
    """Missing, unexpected and reordered columns."""
    want = list(schema.columns)
    missing = [n for n in want if n not in found]
    extra = [n for n in found if n not in schema.columns]
    problems = [f"missing column {n!r}" for n in missing]
    if extra and schema.extra_columns == "refuse":
        problems += [f"unexpected column {n!r}" for n in extra]
    if not problems and [n for n in found if n in schema.columns] != want:
        problems.append(f"columns in another order: {found}")
    return problems


def _value_problem(value: Any, hive_type: str) -> str | None:
    """Why ``value`` (text from CSV, or a JSON value) cannot be of ``hive_type``."""
    if value is None or value == "":
        return None
    kind = parse_type(hive_type).kind
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        if kind in _INTEGERS:
            if isinstance(value, bool) or (
                not isinstance(value, int) and not text.lstrip("-+").isdigit()
            ):
                raise ValueError
        elif kind in ("double", "float", "decimal"):
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, str) and not decimal.Decimal(text).is_finite():
                raise ValueError
            if not isinstance(value, str):
                float(value)
        elif kind == "boolean":
            if not isinstance(value, bool) and text.lower() not in ("true", "false"):
                raise ValueError
        elif kind == "date":
            dt.date.fromisoformat(str(value))
        elif kind == "timestamp":
            dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        elif kind in ("string", "varchar", "char") and not isinstance(value, str):
            raise ValueError
    except (ValueError, decimal.InvalidOperation):
        return f"{text[:40]!r} is not {hive_type}"
    return None


def _typed(schema: ExpectedSchema, rows: list[dict[str, Any]], first_line: int) -> list[str]:
    for number, row in enumerate(rows):
        for name, hive_type in schema.columns.items():
            problem = _value_problem(row.get(name), hive_type)
            if problem:
                return [f"column {name!r} at row {first_line + number}: {problem}"]
    return []


def _csv(schema: ExpectedSchema, path: Path) -> str | None:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=schema.delimiter)
        first = next(reader, None)
        if first is None:
            return "empty file: no header" if schema.header else None
        if schema.header:
            names = [n.strip() for n in first]
            problems = _columns(schema, names)
            body: list[list[str]] = []
        else:
            names = list(schema.columns)
            problems = []
            if len(first) != len(names):
                problems.append(f"{len(first)} fields, expected {len(names)}")
            body = [first]
        if problems:
            return "; ".join(problems)
        for row in reader:
            if len(body) >= schema.sample_rows:
                break
            body.append(row)
    rows = []
    for number, fields in enumerate(body):
        if len(fields) != len(names):
            line = number + (2 if schema.header else 1)
            return f"row {line} has {len(fields)} fields, the header {len(names)}"
        rows.append(dict(zip(names, fields, strict=True)))
    return "; ".join(_typed(schema, rows, 2 if schema.header else 1)) or None


def _json(schema: ExpectedSchema, path: Path) -> str | None:
    """JSON lines (one object per line) or one JSON array of objects."""
    with path.open(encoding="utf-8") as handle:
        head = handle.read(1)
        while head.isspace():
            head = handle.read(1)
        if not head:
            return None
        handle.seek(0)
        if head == "[":
            records = json.load(handle)[: max(schema.sample_rows, 1)]
        else:
            records = []
            for line in handle:
                if line.strip():
                    records.append(json.loads(line))
                if len(records) >= max(schema.sample_rows, 1):
                    break
    keys: list[str] = []
    for record in records:
        if not isinstance(record, dict):
            return "a record is not a JSON object"
        keys += [k for k in record if k not in keys]
    problems = _columns(schema, keys)
    if problems:
        return "; ".join(problems).replace("columns in another order", "keys in another order")
    return "; ".join(_typed(schema, records[: schema.sample_rows], 1)) or None


_ARROW = {
    "int8": "tinyint", "int16": "smallint", "int32": "int", "int64": "bigint",
    "float": "float", "halffloat": "float", "double": "double", "bool": "boolean",
    "string": "string", "large_string": "string", "date32[day]": "date",
    "binary": "binary", "large_binary": "binary",
}  # fmt: skip


def _arrow_type(arrow: Any) -> str:
    text = str(arrow)
    if text.startswith("timestamp"):
        return "timestamp"
    if text.startswith("decimal"):
        return f"decimal({arrow.precision},{arrow.scale})"
    return _ARROW.get(text, text)


def _parquet(schema: ExpectedSchema, path: Path) -> str | None:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise RuntimeError(
            "checking Parquet files against expected_schema needs pyarrow: "
            "pip install 'lakeroutine[parquet]'"
        ) from None
    try:
        found = pq.read_schema(path)
    except Exception as exc:  # pyarrow's errors: not a Parquet file, truncated
        return f"unreadable as parquet: {str(exc)[:200]}"
    problems = _columns(schema, list(found.names))
    for name, hive_type in schema.columns.items():
        if name in found.names:
            actual = _arrow_type(found.field(name).type)
            if actual != parse_type(hive_type).hive():
                problems.append(f"column {name!r} is {actual}, expected {hive_type}")
    return "; ".join(problems) or None


def screen(schema: ExpectedSchema, source: Any, info: Any, quarantine: Any) -> str | None:
    """Why the landing file ``info`` (of storage ``source``) cannot be staged, or None.
    A drifting file is moved to ``schema.quarantine_directory`` (storage ``quarantine``)
    if one is set, else left in landing; the reason says which."""
    import tempfile

    from lakeroutine.staging import names
    from lakeroutine.storage.registry import scheme_of

    with tempfile.TemporaryDirectory(prefix="lakeroutine-schema-") as tmp:
        if scheme_of(info.url) == "file":
            local = Path(info.url)
        else:
            local = Path(tmp) / "file"
            source.download(info.url, local)
        problem = drift(schema, local, info.relpath)
        if problem is None:
            return None
        reason = f"does not match expected_schema: {problem}"
        if schema.quarantine_directory is None:
            return reason
        target = quarantine.join(schema.quarantine_directory, info.relpath)
        try:
            quarantine.upload(local, target, overwrite=False, expected_size=info.size)
        except FileExistsError:
            return (
                f"{reason} (left in landing: {names.shown(info.relpath)} is in quarantine already)"
            )
        current = source.stat(info.url)
        if current is None or not current.same_version_as(info):
            return f"{reason} (copied to quarantine, left in landing: it changed meanwhile)"
        source.delete_many([info.url])
        return f"{reason}; moved to quarantine"
