"""The AthenaExecutor's ``check`` task: the checks compiled for Athena (Trino SQL) and run
in one query, with the bytes scanned and the cost of every query in the report;
write-audit-publish inserts the audited rows into an existing table (Hive or Iceberg) and
the quarantined ones into another, only once no ``error`` check failed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeroutine.context import TaskContext
from lakeroutine.sql import checks
from lakeroutine.sql.tables import quote_qualified
from pydantic import model_validator

if TYPE_CHECKING:
    from lakeroutine.sql.check_sql import CompiledChecks

    from lakeroutine_athena.executor import AthenaExecutor
    from lakeroutine_athena.waiting import QueryOutcome, QueryRunner


class PublishArgs(checks.PublishArgs):
    """On Athena, publishing inserts into existing tables: no locations."""

    @model_validator(mode="after")
    def _no_locations(self) -> PublishArgs:
        if self.location is not None or self.quarantine_location is not None:
            raise ValueError(
                "Athena publishes with INSERT INTO existing tables: create them first "
                "(create_table) and leave location and quarantine_location out"
            )
        if self.mode == "replace":
            raise ValueError("mode replace is not supported on Athena yet: publish appends")
        return self


class CheckArgs(checks.CheckArgs):
    """``check`` on Athena."""

    publish: PublishArgs | None = None


class AthenaCheckEngine:
    """Runs each check query through the executor's QueryRunner (re-attaching on a rerun)
    and keeps every outcome, for bytes scanned and cost."""

    dialect = "trino"

    def __init__(self, executor: AthenaExecutor, runner: QueryRunner) -> None:
        self.executor = executor
        self.runner = runner
        self.outcomes: list[QueryOutcome] = []

    def rows(self, sql: str, step: str) -> tuple[list[str], list[list[Any]]]:
        from lakeroutine_athena.results import ResultReader

        outcome = self.runner.run(sql, step=step)
        self.outcomes.append(outcome)
        reader = ResultReader(self.executor.client, outcome.query_execution_id)
        rows = list(reader.rows())
        return reader.columns, rows

    def run(self, sql: str, step: str) -> QueryOutcome:
        """A statement without rows (an INSERT)."""
        outcome = self.runner.run(sql, step=step)
        self.outcomes.append(outcome)
        return outcome

    def report(self) -> dict[str, Any]:
        from lakeroutine_athena.executor import summary

        if not self.outcomes:
            return {"data_scanned_bytes": 0, "estimated_cost_usd": 0.0}
        report = summary(self.outcomes)
        if len(self.outcomes) == 1:
            report["queries"] = [self.outcomes[0].report()]
        return {
            "data_scanned_bytes": report["data_scanned_bytes"],
            "estimated_cost_usd": report["estimated_cost_usd"],
            "queries": report["queries"],
        }


def publisher(executor: AthenaExecutor, engine: AthenaCheckEngine, publish: PublishArgs) -> Any:
    """``INSERT INTO`` the published table (and the quarantine table) from the audited one."""
    database = executor.params.database

    def write(compiled: CompiledChecks, held: dict[str, int]) -> dict[str, Any]:
        target = quote_qualified([database, publish.table], "trino")
        engine.run(f"INSERT INTO {target}\n{compiled.publish_query()}", "publish")
        result: dict[str, Any] = {"table": f"{database}.{publish.table}"}
        quarantine = compiled.quarantine_query()
        if quarantine is not None and publish.quarantine_table is not None:
            where = quote_qualified([database, publish.quarantine_table], "trino")
            engine.run(f"INSERT INTO {where}\n{quarantine}", "quarantine")
            result["quarantine_table"] = f"{database}.{publish.quarantine_table}"
            result["quarantined_by_check"] = held
        return result

    return write


def run_check(executor: AthenaExecutor, args: CheckArgs, ctx: TaskContext) -> dict[str, Any]:
    """The task itself (see :func:`lakeroutine.sql.check_task.run_check_task`)."""
    from lakeroutine.sql.check_task import run_check_task

    database = executor.params.database
    engine = AthenaCheckEngine(executor, executor._runner(ctx))
    return run_check_task(
        args,
        ctx,
        engine,
        table_sql=quote_qualified([database, args.table], "trino"),
        table_label=f"{database}.{args.table}",
        schema_name=database,
        other_table=lambda name: quote_qualified([database, name], "trino"),
        publish=publisher(executor, engine, args.publish) if args.publish else None,
        dataset=executor._lineage_table(args.table),
    )
