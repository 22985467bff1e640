"""The DuckDBExecutor: Athena's tasks, run for real on local Parquet/CSV/JSON files.

Tables are views over a folder (hive-style partition folders become columns), kept in a
``.duckdb`` file beside the routine; queries run in-process. A cancelled task interrupts
the running query. duckdb is imported when the first task runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeroutine.context import RunContext, TaskContext
from lakeroutine.errors import TaskError
from lakeroutine.executor import Executor, task
from lakeroutine.lineage import Location, Table
from lakeroutine.sql.table_tasks import TableArgs
from lakeroutine.sql.tables import partition_path, quote_identifier, quote_literal

from lakeroutine_duckdb import sql as dsql
from lakeroutine_duckdb.interrupt import Interruptible
from lakeroutine_duckdb.models import (
    AddPartitionsArgs,
    CreateDatabaseArgs,
    CreateTableArgs,
    CtasArgs,
    DuckDBParams,
    RunQueryArgs,
)

if TYPE_CHECKING:
    from lakeroutine_duckdb.checks import CheckArgs


class DuckDBExecutor(Executor):
    """Tables as views over local files and queries on them, in a DuckDB database file."""

    name = "DuckDBExecutor"
    Params = DuckDBParams
    params: DuckDBParams

    def __init__(self, params: DuckDBParams, context: RunContext) -> None:
        super().__init__(params, context)
        self._con: Any = None
        self._catalog = ""
        self._watched: TaskContext | None = None
        self._interruptible = Interruptible()

    @property
    def con(self) -> Any:
        if self._con is None:
            import duckdb

            self.params.database.parent.mkdir(parents=True, exist_ok=True)
            self._con = duckdb.connect(str(self.params.database))
            self._con.execute("SET enable_progress_bar = false")  # logs, never prints
            name = self._con.execute("SELECT current_database()").fetchall()[0][0]
            self._catalog = '"' + name.replace('"', '""') + '"'  # the file's stem, quoted
            schema = self._schema()
            if self.params.schema_name != "main":  # unqualified names resolve in it
                self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                self._con.execute(f"USE {schema}")
        return self._con

    def close(self) -> None:
        self._interruptible.close()
        if self._con is not None:
            self._con.close()
            self._con = None

    def _call(self, ctx: TaskContext, work: Callable[[Any], Any]) -> Any:
        """``work(connection)``, stopped if the task is cancelled (its query interrupted);
        DuckDB's errors become task errors."""
        ctx.check_cancelled()
        con = self.con
        if self._watched is not ctx:  # one interrupt callback per task attempt
            ctx.on_cancel(con.interrupt)
            self._watched = ctx
        return self._interruptible.call(con, lambda: work(con))

    def _rows(self, ctx: TaskContext, sql: str, parameters: list[Any] | None = None) -> list:
        """Run one statement and fetch all its rows."""
        return self._call(ctx, lambda con: con.execute(sql, parameters or None).fetchall())

    def _first_rows(
        self, ctx: TaskContext, sql: str, parameters: list[Any], limit: int
    ) -> tuple[list[str], list[list[Any]]]:
        """Run a query; its column names and its first ``limit`` rows (JSON-able)."""

        def fetch(con: Any) -> tuple[list[str], list[Any]]:
            cursor = con.execute(sql, parameters or None)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchmany(limit) if limit and columns else []
            cursor.abort()  # the statement has run; the rest of its rows are not needed
            return columns, rows

        columns, rows = self._call(ctx, fetch)
        return columns, [_jsonable(r) for r in rows]

    def _schema(self, name: str | None = None) -> str:
        """``"catalog"."schema"``: qualified, as a schema may share the file's name."""
        schema = quote_identifier(name or self.params.schema_name, "duckdb")
        self.con  # noqa: B018 (connects, which names the catalog)
        return f"{self._catalog}.{schema}"

    def _target(self, table: str) -> str:
        return f"{self._schema()}.{quote_identifier(table, 'duckdb')}"

    def _label(self, table: str) -> str:
        return f"{self.params.schema_name}.{table}"

    def _view(self, ctx: TaskContext, table: str) -> tuple[bool, str | None]:
        """Whether the table's view exists, and the folder it reads (kept as the view's
        comment by create_table and ctas; None for a view made otherwise)."""
        found = self._rows(
            ctx,
            "SELECT comment FROM duckdb_views() WHERE database_name = current_database()"
            " AND schema_name = ? AND view_name = ? AND NOT internal",
            [self.params.schema_name, table],
        )
        return bool(found), (found[0][0] or None) if found else None

    def _exists(self, ctx: TaskContext, table: str) -> bool:
        return self._view(ctx, table)[0]

    def _lineage_table(
        self, table: str, location: str | None = None, columns: list[tuple[str, str]] | None = None
    ) -> Table:
        """The table as lineage names it (:mod:`lakeroutine.lineage`): ``schema.table``."""
        name = table if "." in table else self._label(table)
        database = str(self.params.database)
        return Table("duckdb", name, host=database, location=location, columns=columns)

    def _declare_query(self, ctx: TaskContext, sql: str) -> None:
        """The query and the tables it reads, for lineage (as DuckDB's parser finds them)."""
        ctx.lineage.query(sql, dialect="duckdb")
        try:
            tree = self.con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0]
        except Exception:  # lineage is best effort: the query itself reports its errors
            return
        names = dsql.tables_read(json.loads(tree), self.params.schema_name)
        ctx.lineage.read(*(self._lineage_table(name) for name in names))

    def _make_view(self, ctx: TaskContext, sql: str, table: str, location: str) -> None:
        """Run the CREATE VIEW ``sql`` and note the folder the view reads in its comment."""
        self._rows(ctx, sql)
        where = quote_literal(location, "duckdb")
        self._rows(ctx, f"COMMENT ON VIEW {self._target(table)} IS {where}")

    @task
    def create_database(self, args: CreateDatabaseArgs, ctx: TaskContext) -> dict[str, Any]:
        """Create the schema (Athena's database) if it is missing."""
        name = args.name or self.params.schema_name
        self._rows(ctx, f"CREATE SCHEMA IF NOT EXISTS {self._schema(name)}")
        return {"database": name, "file": str(self.params.database)}

    @task
    def create_table(self, args: CreateTableArgs, ctx: TaskContext) -> dict[str, Any]:
        """A view over the spec's files, typed as the spec says; ``if_exists`` as on Athena."""
        spec = args.table
        exists = self._exists(ctx, spec.name)
        result = {"table": self._label(spec.name), "location": spec.location}
        if exists and args.if_exists == "skip":
            return {**result, "action": "kept"}
        if exists and args.if_exists == "fail":
            raise TaskError(f"table {result['table']} already exists (if_exists: fail)")
        if not _has_files(spec.location, spec.format):
            raise TaskError(
                f"no {spec.format} files under {spec.location}: DuckDB needs at least one "
                "to create the table"
            )
        view = dsql.create_view(spec, target=self._target(spec.name), replace=exists)
        self._make_view(ctx, view, spec.name, spec.location)
        rows = self._rows(ctx, f"SELECT count(*) FROM {self._target(spec.name)}")[0][0]
        columns = [*spec.columns.items(), *spec.partitioned_by.items()]
        ctx.lineage.query(view, dialect="duckdb")
        ctx.lineage.read(Location(spec.location))
        ctx.lineage.wrote(self._lineage_table(spec.name, spec.location, columns))
        return {**result, "action": "replaced" if exists else "created", "rows": rows}

    @task
    def drop_table(self, args: TableArgs, ctx: TaskContext) -> dict[str, Any]:
        """Drop the table's view if it exists (its files stay, as on Athena)."""
        existed = self._exists(ctx, args.table)
        self._rows(ctx, f"DROP VIEW IF EXISTS {self._target(args.table)}")
        return {"table": self._label(args.table), "dropped": existed}

    @task
    def repair_table(self, args: TableArgs, ctx: TaskContext) -> dict[str, Any]:
        """Partition folders are read at query time on DuckDB: check the table and count
        its rows."""
        if not self._exists(ctx, args.table):
            raise TaskError(f"no table {self._label(args.table)}")
        rows = self._rows(ctx, f"SELECT count(*) FROM {self._target(args.table)}")[0][0]
        return {"table": self._label(args.table), "rows": rows}

    @task
    def add_partitions(self, args: AddPartitionsArgs, ctx: TaskContext) -> dict[str, Any]:
        """DuckDB reads partitions from their folders: check that each one holds files
        (a partition without a location of its own or ``location`` is in the table's)."""
        exists, table_location = self._view(ctx, args.table)
        if not exists:
            raise TaskError(f"no table {self._label(args.table)}")
        missing = []
        for values, folder in args.located():
            if folder is None:
                if table_location is None:
                    raise TaskError(
                        f"table {self._label(args.table)} was not made by create_table or "
                        "ctas: give add_partitions a location"
                    )
                folder = table_location + partition_path(values)
            if not any(p.is_file() for p in Path(folder).rglob("*")):
                missing.append(folder)
        if missing:
            raise TaskError(f"partition folders without files: {', '.join(missing)}")
        return {"table": self._label(args.table), "partitions": len(args.partitions)}

    def _check_sql(self, sql: str, *, query_only: bool) -> None:
        """Refuse, before running anything, SQL that Athena would refuse (several
        statements, ATTACH, COPY, INSTALL...): the twin must not accept more."""
        import duckdb

        try:
            parsed = self.con.extract_statements(sql)
        except duckdb.Error as exc:
            raise TaskError(f"DuckDB cannot parse the SQL: {exc}") from None
        try:
            dsql.check_athena_statement(
                [(s.type.name, s.query) for s in parsed], query_only=query_only
            )
        except ValueError as exc:
            raise TaskError(f"refused: {exc}") from None

    @task
    def run_query(self, args: RunQueryArgs, ctx: TaskContext) -> dict[str, Any]:
        """Run one statement, as Athena would; its rows go to ``output`` if given, and the
        first few to the report."""
        self._check_sql(args.query, query_only=args.output is not None)
        self._declare_query(ctx, args.query)
        preview = self.params.preview_rows
        if args.output is None:
            columns, rows = self._first_rows(ctx, args.query, list(args.parameters), preview)
            return {"columns": columns, "preview": rows}
        return self._query_to_file(ctx, args, preview)

    def _query_to_file(self, ctx: TaskContext, args: RunQueryArgs, preview: int) -> dict:
        target = Path(args.output or "")
        suffix = target.suffix.lower()
        file_format = {".csv": "csv", ".parquet": "parquet"}.get(suffix, "json")
        options = dsql.copy_options(file_format, array=suffix == ".json")
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.lakeroutine-tmp")
        copy = f"COPY (\n{args.query}\n) TO {quote_literal(str(temporary), 'duckdb')} {options}"
        try:
            count = self._rows(ctx, copy, list(args.parameters))[0][0]
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        read_back = f"SELECT * FROM {dsql.READERS[file_format]}(?)"
        columns, rows = self._first_rows(ctx, read_back, [str(target)], preview)
        ctx.lineage.wrote(Location(str(target), files=1, rows=count, bytes=target.stat().st_size))
        return {"rows": count, "columns": columns, "preview": rows, "output": str(target)}

    @task
    def ctas(self, args: CtasArgs, ctx: TaskContext) -> dict[str, Any]:
        """Write a query's result under ``location`` (partition folders if asked) and make it
        a table; like Athena, refuses a location that already holds files."""
        self._check_sql(args.query, query_only=True)
        folder = Path(args.location)
        if folder.exists() and any(p.is_file() for p in folder.rglob("*")):
            raise TaskError(f"ctas location {args.location} is not empty")
        exists = self._exists(ctx, args.table)
        if exists and args.if_exists == "fail":
            raise TaskError(f"table {self._label(args.table)} already exists")
        folder.mkdir(parents=True, exist_ok=True)
        options = dsql.copy_options(args.format, partitioned_by=args.partitioned_by)
        target = str(folder) if args.partitioned_by else str(folder / f"data.{args.format}")
        copy = f"COPY (\n{args.query}\n) TO {quote_literal(target, 'duckdb')} {options}"
        count = self._rows(ctx, copy, list(args.parameters))[0][0]
        glob = quote_literal(dsql.files_glob(args.location, args.format), "duckdb")
        view = (
            f"CREATE OR REPLACE VIEW {self._target(args.table)} AS "
            f"SELECT * FROM {dsql.READERS[args.format]}({glob}, hive_partitioning = true)"
        )
        self._make_view(ctx, view, args.table, args.location)
        self._declare_query(ctx, args.query)
        ctx.lineage.wrote(Location(args.location, rows=count))
        ctx.lineage.wrote(self._lineage_table(args.table, args.location))
        return {
            "table": self._label(args.table),
            "location": args.location,
            "rows": count,
        }

    @task(args="lakeroutine_duckdb.checks:CheckArgs")  # built only when a routine checks
    def check(self, args: CheckArgs, ctx: TaskContext) -> dict[str, Any]:
        """Data quality checks on a table, all in one query; with ``publish``, the audited
        rows are published (and failing rows quarantined) only if no error check failed."""
        from lakeroutine.sql.check_task import run_check_task

        from lakeroutine_duckdb.checks import DuckDBCheckEngine, publisher

        found = self._rows(
            ctx,
            "SELECT 1 FROM information_schema.tables WHERE table_catalog = current_database()"
            " AND table_schema = ? AND table_name = ?",
            [self.params.schema_name, args.table],
        )
        if not found:  # a view made by create_table or ctas, or a table made by a query
            raise TaskError(f"no table {self._label(args.table)}")
        publish = publisher(self, ctx, args.publish) if args.publish else None
        return run_check_task(
            args,
            ctx,
            DuckDBCheckEngine(self, ctx),
            table_sql=self._target(args.table),
            table_label=self._label(args.table),
            schema_name=self.params.schema_name,
            other_table=self._target,
            publish=publish,
            dataset=self._lineage_table(args.table),
        )


def _has_files(location: str, file_format: str) -> bool:
    pattern = dsql.GLOBS[file_format]
    return any(p.is_file() for p in Path(location).rglob(pattern))


def _jsonable(row: tuple[Any, ...]) -> list[Any]:
    """A DuckDB row for the JSON report: lists and structs kept, dates, decimals and the
    like as text."""
    return [_value(v) for v in row]


def _value(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _value(v) for k, v in value.items()}
    return str(value)
