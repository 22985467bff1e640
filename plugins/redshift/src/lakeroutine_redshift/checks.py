"""The RedshiftExecutor's ``check`` task: the checks compiled for Redshift and run in one
statement through the Data API; write-audit-publish inserts the audited rows (and the
quarantined ones) in one transaction, only once no ``error`` check failed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeroutine.context import TaskContext
from lakeroutine.sql import checks
from lakeroutine.sql.tables import Identifier
from pydantic import Field, model_validator

from lakeroutine_redshift.sql import qualified

if TYPE_CHECKING:
    from lakeroutine.sql.check_sql import CompiledChecks

    from lakeroutine_redshift.executor import RedshiftExecutor


class PublishArgs(checks.PublishArgs):
    """On Redshift, publishing inserts into existing tables (in the checked table's
    schema): no locations."""

    @model_validator(mode="after")
    def _no_locations(self) -> PublishArgs:
        if self.location is not None or self.quarantine_location is not None:
            raise ValueError(
                "Redshift publishes with INSERT INTO existing tables: leave location and "
                "quarantine_location out"
            )
        return self


class CheckArgs(checks.CheckArgs):
    """``check`` on Redshift: ``table`` in ``schema`` (the search path's if not given)."""

    schema_: Identifier | None = Field(None, alias="schema")
    publish: PublishArgs | None = None


class RedshiftCheckEngine:
    """Runs each check query as one Data API statement and reads its rows back."""

    dialect = "redshift"

    def __init__(self, executor: RedshiftExecutor, ctx: TaskContext) -> None:
        from lakeroutine_redshift.dataapi import StatementRunner

        self.executor = executor
        self.runner = StatementRunner(executor.client, executor.params, ctx)
        self.statements: list[dict[str, Any]] = []

    def rows(self, sql: str, step: str) -> tuple[list[str], list[list[Any]]]:
        from lakeroutine_redshift.dataapi import SqlStep
        from lakeroutine_redshift.results import fetch_rows

        (report,) = self.runner.run([SqlStep(sql)])
        self.statements.append(report)
        result = fetch_rows(self.executor.client, report["id"], 1000)
        return result["columns"], result["rows"]

    def run(self, sqls: list[str]) -> None:
        """Statements without rows, in one transaction."""
        from lakeroutine_redshift.dataapi import SqlStep

        self.statements += self.runner.run([SqlStep(sqls if len(sqls) > 1 else sqls[0])])

    def report(self) -> dict[str, Any]:
        return {"statement_ids": [s["id"] for s in self.statements]}


def run_check(executor: RedshiftExecutor, args: CheckArgs, ctx: TaskContext) -> dict[str, Any]:
    """The task itself (see :func:`lakeroutine.sql.check_task.run_check_task`)."""
    from lakeroutine.sql.check_task import run_check_task

    engine = RedshiftCheckEngine(executor, ctx)
    schema = args.schema_

    def publish(compiled: CompiledChecks, held: dict[str, int]) -> dict[str, Any]:
        target = args.publish
        if target is None:
            return {}
        published = qualified(schema, target.table)
        sqls = [f"INSERT INTO {published}\n{compiled.publish_query()}"]
        if target.mode == "replace":  # in the same transaction: readers see old or new
            sqls.insert(0, f"DELETE FROM {published}")
        result: dict[str, Any] = {"table": target.table}
        quarantine = compiled.quarantine_query()
        if quarantine is not None and target.quarantine_table is not None:
            sqls.append(f"INSERT INTO {qualified(schema, target.quarantine_table)}\n{quarantine}")
            result["quarantine_table"] = target.quarantine_table
            result["quarantined_by_check"] = held
        engine.run(sqls)
        return result

    return run_check_task(
        args,
        ctx,
        engine,
        table_sql=qualified(schema, args.table),
        table_label=f"{schema}.{args.table}" if schema else args.table,
        schema_name=schema or "public",
        other_table=lambda name: qualified(schema, name),
        publish=publish if args.publish else None,
        dataset=executor._named_table((schema or "public", args.table)),
    )
