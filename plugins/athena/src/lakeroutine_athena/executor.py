"""The AthenaExecutor: databases, tables, partitions, queries and CTAS on Amazon Athena.

Every statement is built from validated names and quoted literals (lakeroutine.sql.tables);
every query runs through :class:`~lakeroutine_athena.waiting.QueryRunner`, so each task's
output holds the query execution id, final state, bytes scanned and estimated cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeroutine.aws import AwsExecutor, connection_param, error_code, make_client
from lakeroutine.context import TaskContext
from lakeroutine.errors import RoutineError, TaskError
from lakeroutine.executor import task
from lakeroutine.service_errors import service_error_text
from lakeroutine.sql.table_tasks import TableArgs
from lakeroutine.sql.tables import (
    hive_add_partitions,
    hive_create_database,
    hive_create_table,
    hive_drop_table,
    hive_repair_table,
)

from lakeroutine_athena.models import (
    AddPartitionsArgs,
    AthenaParams,
    CreateDatabaseArgs,
    CreateTableArgs,
    CtasArgs,
    RunQueryArgs,
)
from lakeroutine_athena.waiting import QueryOutcome, QueryRunner

if TYPE_CHECKING:
    from lakeroutine_athena.checks import CheckArgs


def summary(outcomes: list[QueryOutcome], **extra: Any) -> dict[str, Any]:
    """A task's output: the last query's id and state, bytes and cost summed over all of
    its queries (listed under ``queries`` when there are several)."""
    report = outcomes[-1].report()
    report["data_scanned_bytes"] = sum(o.data_scanned_bytes for o in outcomes)
    report["estimated_cost_usd"] = round(sum(o.estimated_cost_usd for o in outcomes), 8)
    if len(outcomes) > 1:
        report["queries"] = [o.report() for o in outcomes]
    return {**report, **extra}


class AthenaExecutor(AwsExecutor):
    """Runs DDL and queries on Athena, waiting for each with explicit polling."""

    name = "AthenaExecutor"
    service = "athena"
    Params = AthenaParams
    params: AthenaParams

    def preflight(self, tasks: list[str]) -> None:
        """The workgroup exists and query results have somewhere to go."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            found = self.client.get_work_group(WorkGroup=self.params.workgroup)
        except ClientError as exc:
            found = {"error": exc}
        except BotoCoreError as exc:
            param = connection_param(exc)
            field = f"params.{param}" if param else None
            reason = service_error_text(exc)
            raise RoutineError(f"cannot reach Athena: {reason}", field=field) from None
        workgroup = found.get("WorkGroup")
        if not workgroup or workgroup.get("State") == "DISABLED":
            error = found.get("error")
            problem = (
                service_error_text(error)
                if error
                else ("disabled" if workgroup else "no such workgroup")
            )
            raise RoutineError(
                f"Athena workgroup {self.params.workgroup!r}: {problem}", field="params.workgroup"
            )
        self._check_engine(workgroup)
        if self.params.output_location:
            self._check_bucket(self.params.output_location)
            return
        configured = (
            workgroup.get("Configuration", {}).get("ResultConfiguration", {}).get("OutputLocation")
        )
        if not configured:
            raise RoutineError(
                f"no output_location, and workgroup {self.params.workgroup!r} sets none",
                field="params.output_location",
            )

    def _check_engine(self, workgroup: dict[str, Any]) -> None:
        """An ``engine_version`` this botocore cannot ask for per query must be the
        workgroup's own (a DuckDB workgroup for 'DuckDB')."""
        from lakeroutine_athena.waiting import per_query_engine

        wanted = self.params.engine_version
        if not wanted or per_query_engine(self.client):
            return
        engine = workgroup.get("Configuration", {}).get("EngineVersion", {})
        has = engine.get("EffectiveEngineVersion") or engine.get("SelectedEngineVersion")
        if has != wanted:
            import botocore

            raise RoutineError(
                f"workgroup {self.params.workgroup!r} runs on {has or 'AUTO'!r}, not "
                f"{wanted!r}, and botocore {botocore.__version__} cannot choose the engine per "
                "query (StartQueryExecution has no EngineVersion before botocore 1.44.18): "
                f"use a workgroup whose engine version is {wanted!r}",
                field="params.engine_version",
            )

    def _check_bucket(self, url: str) -> None:
        from botocore.exceptions import ClientError

        bucket = url[len("s3://") :].split("/", 1)[0]
        try:
            make_client("s3", self.params).head_bucket(Bucket=bucket)
        except ClientError as exc:
            missing = error_code(exc) in ("404", "NoSuchBucket")
            problem = "does not exist" if missing else f"is unusable: {service_error_text(exc)}"
            raise RoutineError(
                f"bucket {bucket!r} of output_location {problem}", field="params.output_location"
            ) from None

    def _runner(self, ctx: TaskContext) -> QueryRunner:
        return QueryRunner(self.client, self.params, ctx)

    def _table_name(self, table: str) -> str:
        return f"{self.params.database}.{table}"

    def _lineage_table(self, table: str, location: str | None = None, spec: Any = None) -> Any:
        """The table as lineage names it (:mod:`lakeroutine.lineage`)."""
        from lakeroutine.lineage import Table

        columns = None
        if spec is not None:
            columns = [*spec.columns.items(), *spec.partitioned_by.items()]
        region = self.client.meta.region_name
        return Table("athena", self._table_name(table), region, location=location, columns=columns)

    def _named_table(self, parts: tuple[str, ...]) -> Any:
        """A table by its name's parts (``table``, ``db.table`` or ``catalog.db.table``; the
        params' database where not given), as lineage names it."""
        from lakeroutine.lineage import Table

        parts = parts[-3:]
        catalog, database, name = (None, self.params.database)[: 3 - len(parts)] + parts
        if catalog is not None and catalog.lower() == "awsdatacatalog":
            catalog = None  # the default catalog, as the naming spec spells it
        region = self.client.meta.region_name
        return Table("athena", f"{database}.{name}", region, catalog=catalog)

    def _declare_reads(self, ctx: TaskContext, sql: str) -> None:
        """The tables ``sql`` reads, for lineage, as sqlglot's Athena dialect finds them
        (sqlglot imported only now)."""
        from lakeroutine.sql.tables_read import tables_read

        ctx.lineage.read(*(self._named_table(p) for p in tables_read(sql, "athena")))

    @task
    def create_database(self, args: CreateDatabaseArgs, ctx: TaskContext) -> dict[str, Any]:
        """Create the database (the params' one unless ``name`` is given) if it is missing."""
        name = args.name or self.params.database
        sql = hive_create_database(name, location=args.location)
        outcome = self._runner(ctx).run(sql, database="default")
        return summary([outcome], database=name)

    @task
    def create_table(self, args: CreateTableArgs, ctx: TaskContext) -> dict[str, Any]:
        """Create an external table from a table spec; ``if_exists``: skip (keep the
        existing table), fail, or replace (drop it first; external data stays)."""
        runner = self._runner(ctx)
        spec = args.table
        database = self.params.database
        outcomes = []
        if args.if_exists == "replace":
            drop = hive_drop_table(spec.name, database=database)
            outcomes.append(runner.run(drop, step="drop"))
        ddl = hive_create_table(spec, database=database, if_not_exists=args.if_exists == "skip")
        outcomes.append(runner.run(ddl, step="create"))
        ctx.lineage.query(ddl, dialect="athena")
        ctx.lineage.wrote(self._lineage_table(spec.name, spec.location, spec))
        return summary(outcomes, table=self._table_name(spec.name), location=spec.location)

    @task
    def drop_table(self, args: TableArgs, ctx: TaskContext) -> dict[str, Any]:
        """Drop the table if it exists (an external table's files stay where they are)."""
        sql = hive_drop_table(args.table, database=self.params.database)
        return summary([self._runner(ctx).run(sql)], table=self._table_name(args.table))

    @task
    def repair_table(self, args: TableArgs, ctx: TaskContext) -> dict[str, Any]:
        """Load the hive-style partition folders found under the table's location."""
        sql = hive_repair_table(args.table, database=self.params.database)
        return summary([self._runner(ctx).run(sql)], table=self._table_name(args.table))

    @task
    def add_partitions(self, args: AddPartitionsArgs, ctx: TaskContext) -> dict[str, Any]:
        """Add partitions (those present already are kept), ``batch_size`` per statement."""
        entries = args.located()
        runner = self._runner(ctx)
        outcomes = []
        for start in range(0, len(entries), args.batch_size):
            batch = entries[start : start + args.batch_size]
            sql = hive_add_partitions(args.table, batch, database=self.params.database)
            outcomes.append(runner.run(sql, step=f"batch{start // args.batch_size}"))
        return summary(outcomes, table=self._table_name(args.table), partitions=len(entries))

    @task
    def run_query(self, args: RunQueryArgs, ctx: TaskContext) -> dict[str, Any]:
        """Run a query; its rows go to ``output`` if given, and the first few to the report.
        Any statement may have rows (SHOW and DESCRIBE are DDL to Athena)."""
        from lakeroutine.lineage import Location

        from lakeroutine_athena.results import ResultReader, preview_rows, save_rows

        ctx.lineage.query(args.query, dialect="athena")
        self._declare_reads(ctx, args.query)
        outcome = self._runner(ctx).run(args.query, parameters=args.execution_parameters("trino"))
        reader = ResultReader(self.client, outcome.query_execution_id)
        if args.output:
            extra = save_rows(ctx, reader, args.output, self.params.preview_rows)
            ctx.lineage.wrote(Location(args.output, files=1, rows=extra.get("rows")))
        else:
            extra = preview_rows(reader, self.params.preview_rows)
        return summary([outcome], **extra)

    @task
    def ctas(self, args: CtasArgs, ctx: TaskContext) -> dict[str, Any]:
        """Write a query's result to ``location`` as a new table (CREATE TABLE AS SELECT,
        Hive or Iceberg). The location must be empty (refused up front, exit 2); what a
        FAILED or CANCELLED query left there is removed. ``if_exists: replace`` drops the
        old table first (its files stay: use a new location or clear it)."""
        from lakeroutine_athena.ctas_location import CtasLocation
        from lakeroutine_athena.statements import ctas
        from lakeroutine_athena.waiting import QueryFailed

        where = CtasLocation(make_client("s3", self.params), args.location)
        self._claim(where, ctx)
        runner = self._runner(ctx)
        database = self.params.database
        outcomes = []
        if args.if_exists == "replace":
            drop = hive_drop_table(args.table, database=database)
            outcomes.append(runner.run(drop, step="drop"))
        sql = ctas(
            args.table,
            args.query,
            database=database,
            location=args.location,
            file_format=args.format,
            partitioned_by=args.partitioned_by,
        )
        ctx.lineage.query(sql, dialect="athena")
        self._declare_reads(ctx, args.query)
        try:
            outcome = runner.run(sql, step="ctas", parameters=args.execution_parameters("trino"))
        except QueryFailed as exc:
            removed = where.clean()
            where.release(ctx.state)
            raise TaskError(
                f"{exc} (removed the {removed} object(s) it left under {args.location})"
            ) from None
        outcomes.append(outcome)
        ctx.lineage.wrote(self._lineage_table(args.table, args.location))
        return summary(outcomes, table=self._table_name(args.table), location=args.location)

    def _claim(self, where: Any, ctx: TaskContext) -> None:
        """Claim the CTAS location; on a rerun after a kill, first remove what the claimed
        location holds unless a query of this task may still write there or succeeded."""
        resumed = where.claimed(ctx.state)
        where.claim(ctx.state)
        if not resumed:
            return
        query_id = ctx.state.get("ctas.query_id")
        if query_id is None and ctx.state.get("ctas.token"):
            return  # started but not noted: the same token re-attaches to it
        if query_id is not None:
            execution = self.client.get_query_execution(QueryExecutionId=query_id)
            if execution["QueryExecution"]["Status"]["State"] not in ("FAILED", "CANCELLED"):
                return  # running or succeeded: the runner re-attaches
        removed = where.clean()
        if removed:
            ctx.logger.info("removed %d object(s) a failed CTAS left in %s", removed, where.url)

    @task(args="lakeroutine_athena.checks:CheckArgs")  # built only when a routine checks
    def check(self, args: CheckArgs, ctx: TaskContext) -> dict[str, Any]:
        """Data quality checks on a table, all in one query (bytes scanned and cost in the
        report); with ``publish``, audited rows are inserted only if no error check failed."""
        from lakeroutine_athena.checks import run_check

        return run_check(self, args, ctx)
