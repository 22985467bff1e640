"""The DuckDBExecutor's ``check`` task: the checks compiled for DuckDB and run in one
query; write-audit-publish writes the audited rows (and the quarantined ones) as Parquet
under local folders and makes them tables, only once no ``error`` check failed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeroutine.context import TaskContext
from lakeroutine.sql import checks
from lakeroutine.sql.tables import quote_literal
from pydantic import ValidationInfo, field_validator, model_validator

from lakeroutine_duckdb import sql as dsql
from lakeroutine_duckdb.models import local_folder

if TYPE_CHECKING:
    from lakeroutine.sql.check_sql import CompiledChecks

    from lakeroutine_duckdb.executor import DuckDBExecutor


class PublishArgs(checks.PublishArgs):
    """Where audited rows go on DuckDB: local folders for the table and the quarantine."""

    @field_validator("location", "quarantine_location")
    @classmethod
    def _local(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else local_folder(value, info, info.field_name or "")

    @model_validator(mode="after")
    def _folders(self) -> PublishArgs:
        if self.location is None:
            raise ValueError("publish.location: DuckDB writes the published rows to a folder")
        if self.quarantine_table is not None and self.quarantine_location is None:
            raise ValueError("publish.quarantine_location: a folder for the quarantined rows")
        return self


class CheckArgs(checks.CheckArgs):
    """``check`` on DuckDB (publish locations are local folders)."""

    publish: PublishArgs | None = None


class DuckDBCheckEngine:
    """Runs the check queries on the executor's connection (cancellable as any task)."""

    dialect = "duckdb"

    def __init__(self, executor: DuckDBExecutor, ctx: TaskContext) -> None:
        self.executor = executor
        self.ctx = ctx
        self.queries = 0

    def rows(self, sql: str, step: str) -> tuple[list[str], list[list[Any]]]:
        from lakeroutine_duckdb.executor import _jsonable

        def fetch(con: Any) -> tuple[list[str], list[Any]]:
            cursor = con.execute(sql)
            return [d[0] for d in cursor.description or []], cursor.fetchall()

        self.queries += 1
        columns, rows = self.executor._call(self.ctx, fetch)
        return columns, [_jsonable(r) for r in rows]

    def report(self) -> dict[str, Any]:
        return {"queries": self.queries}


def publisher(executor: DuckDBExecutor, ctx: TaskContext, publish: PublishArgs) -> Any:
    """Writes the audited rows to ``publish.location`` (and quarantined rows to
    ``quarantine_location``), each as one Parquet file named after the run, then points the
    tables at them; a file appears at its name only when complete."""

    def write(compiled: CompiledChecks, held: dict[str, int]) -> dict[str, Any]:
        result: dict[str, Any] = {"table": executor._label(publish.table)}
        result["rows"] = _write_table(
            executor, ctx, compiled.publish_query(), publish.table, publish.location or ""
        )
        if publish.mode == "replace":
            _keep_only(Path(publish.location or ""), f"part-{ctx.run_id}.parquet")
        quarantine = compiled.quarantine_query()
        if quarantine is not None and publish.quarantine_table is not None:
            result["quarantine_table"] = executor._label(publish.quarantine_table)
            result["quarantined_rows"] = _write_table(
                executor,
                ctx,
                quarantine,
                publish.quarantine_table,
                publish.quarantine_location or "",
            )
            result["quarantined_by_check"] = held
            if publish.mode == "replace":
                _keep_only(Path(publish.quarantine_location or ""), f"part-{ctx.run_id}.parquet")
        return result

    return write


def _keep_only(folder: Path, name: str) -> None:
    """Remove the earlier runs' files once this run's file is in place (mode replace)."""
    for path in folder.glob("part-*.parquet"):
        if path.name != name:
            path.unlink(missing_ok=True)


def _write_table(
    executor: DuckDBExecutor, ctx: TaskContext, query: str, table: str, location: str
) -> int:
    """``query``'s rows as ``location/part-RUN.parquet`` (replaced by a retry of the same
    run, added to by later runs), and ``table`` a view over the folder."""
    folder = Path(location)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"part-{ctx.run_id}.parquet"
    temporary = folder / f".{target.name}.lakeroutine-tmp"
    copy = f"COPY (\n{query}\n) TO {quote_literal(str(temporary), 'duckdb')} (FORMAT parquet)"
    try:
        count = executor._rows(ctx, copy)[0][0]
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    glob = quote_literal(dsql.files_glob(location, "parquet"), "duckdb")
    view = (
        f"CREATE OR REPLACE VIEW {executor._target(table)} AS "
        f"SELECT * FROM read_parquet({glob}, union_by_name = true)"
    )
    executor._make_view(ctx, view, table, location)
    return int(count)
