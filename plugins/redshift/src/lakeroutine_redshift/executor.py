"""RedshiftExecutor: SQL, DDL, COPY and UNLOAD on a cluster or serverless workgroup through
the Redshift Data API (no drivers, no open ports)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeroutine.aws import AwsExecutor
from lakeroutine.context import TaskContext
from lakeroutine.executor import task
from lakeroutine.lineage import Location

from lakeroutine_redshift import statements
from lakeroutine_redshift.dataapi import SqlStep, StatementRunner
from lakeroutine_redshift.models import (
    CopyArgs,
    CreateSchemaArgs,
    CreateTableArgs,
    ExecuteSqlArgs,
    RedshiftParams,
    UnloadArgs,
)
from lakeroutine_redshift.results import fetch_rows
from lakeroutine_redshift.sql import mask_secrets

if TYPE_CHECKING:
    from lakeroutine_redshift.checks import CheckArgs


def _param_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class RedshiftExecutor(AwsExecutor):
    """Runs statements on Redshift, one Data API call each, waiting for every one."""

    name = "RedshiftExecutor"
    service = "redshift-data"
    Params = RedshiftParams
    params: RedshiftParams

    def _run(self, ctx: TaskContext, steps: list[SqlStep]) -> list[dict[str, Any]]:
        texts = [
            t for step in steps for t in (step.sql if isinstance(step.sql, list) else [step.sql])
        ]
        masked = ";\n".join(mask_secrets(str(t)) for t in texts)  # no password in lineage
        ctx.lineage.query(masked, dialect="redshift")
        return StatementRunner(self.client, self.params, ctx).run(steps)

    def _lineage_table(self, table: Any, columns: Any = None, rows: int | None = None) -> Any:
        """The table as lineage names it (:mod:`lakeroutine.lineage`): database.schema.table
        on the cluster or workgroup, in the client's region."""
        return self._named_table((table.schema_ or "public", table.name), columns, rows)

    def _named_table(
        self, parts: tuple[str, ...], columns: Any = None, rows: int | None = None
    ) -> Any:
        """A table by its name's parts (``table``, ``schema.table`` or ``db.schema.table``;
        the params' database and ``public`` where not given), as lineage names it."""
        from lakeroutine.lineage import Table

        parts = parts[-3:]
        database, schema, name = (self.params.database, "public")[: 3 - len(parts)] + parts
        where = self.params.cluster_identifier or self.params.workgroup_name
        region = self.client.meta.region_name
        name = f"{database}.{schema}.{name}"
        return Table("redshift", name, region, host=where, columns=columns, rows=rows)

    def _declare_reads(self, ctx: TaskContext, sql: str) -> None:
        """The tables ``sql`` reads, for lineage, as sqlglot's Redshift dialect finds them
        (sqlglot imported only now)."""
        from lakeroutine.sql.tables_read import tables_read

        found = tables_read(mask_secrets(sql), "redshift")  # no password reaches sqlglot
        ctx.lineage.read(*(self._named_table(p) for p in found))

    @task
    def execute_sql(self, args: ExecuteSqlArgs, ctx: TaskContext) -> dict[str, Any]:
        """Run SQL (inline or a file; several statements in order) with :name parameters;
        ``fetch_rows`` puts the first rows of the last statement's result in the report."""
        values = {k: _param_text(v) for k, v in args.parameters.items()}
        steps = [
            SqlStep(s.text, {name: values[name] for name in s.parameters})
            for s in args.statements()
        ]
        self._declare_reads(ctx, ";\n".join(str(step.sql) for step in steps))
        reports = self._run(ctx, steps)
        output: dict[str, Any] = {
            "statement_ids": [r["id"] for r in reports],
            "statements": reports,
        }
        if args.fetch_rows and reports[-1]["has_result_set"]:
            output["result"] = fetch_rows(self.client, reports[-1]["id"], args.fetch_rows)
        return output

    @task
    def create_schema(self, args: CreateSchemaArgs, ctx: TaskContext) -> dict[str, Any]:
        """Create a schema if it does not exist."""
        (report,) = self._run(ctx, [SqlStep(statements.create_schema(args.schema_))])
        return {"schema": args.schema_, "statement_id": report["id"], "statement": report}

    @task
    def create_table(self, args: CreateTableArgs, ctx: TaskContext) -> dict[str, Any]:
        """Create a table (columns, DISTSTYLE, DISTKEY, SORTKEY) if it does not exist."""
        table = args.table
        (report,) = self._run(ctx, [SqlStep(statements.create_table(table))])
        columns = [(c.name, str(c.type)) for c in table.columns]
        ctx.lineage.wrote(self._lineage_table(table, columns))
        name = f"{table.schema_}.{table.name}" if table.schema_ else table.name
        return {"table": name, "statement_id": report["id"], "statement": report}

    @task
    def copy_from_s3(self, args: CopyArgs, ctx: TaskContext) -> dict[str, Any]:
        """COPY files under an S3 prefix into a table: append, overwrite, or upsert on keys."""
        steps = statements.load(args)
        reports = self._run(ctx, [SqlStep(sql) for sql in steps])
        copy_index = next(i for i, sql in enumerate(steps) if str(sql).startswith("COPY "))
        table = args.table
        ctx.lineage.read(Location(args.source))
        ctx.lineage.wrote(self._lineage_table(table, rows=reports[copy_index]["rows"]))
        return {
            "table": f"{table.schema_}.{table.name}" if table.schema_ else table.name,
            "mode": args.mode,
            "source": args.source,
            "rows_loaded": reports[copy_index]["rows"],
            "statement_ids": [r["id"] for r in reports],
            "statements": reports,
        }

    @task
    def unload_to_s3(self, args: UnloadArgs, ctx: TaskContext) -> dict[str, Any]:
        """UNLOAD a query's result to an S3 prefix as Parquet or CSV."""
        self._declare_reads(ctx, args.query)
        (report,) = self._run(ctx, [SqlStep(statements.unload(args))])
        ctx.lineage.wrote(Location(args.destination, rows=report["rows"]))
        return {
            "destination": args.destination,
            "format": args.format,
            "rows_unloaded": report["rows"],
            "statement_id": report["id"],
            "statement": report,
        }

    @task(args="lakeroutine_redshift.checks:CheckArgs")  # built only when a routine checks
    def check(self, args: CheckArgs, ctx: TaskContext) -> dict[str, Any]:
        """Data quality checks on a table, all in one statement; with ``publish``, audited
        rows are inserted (one transaction) only if no error check failed."""
        from lakeroutine_redshift.checks import run_check

        return run_check(self, args, ctx)
