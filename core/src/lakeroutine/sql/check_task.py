"""The ``check`` task every SQL executor offers, written once: compile the checks into one
query, run it through the executor's engine, judge, sample failing rows, keep the row
count for the next run, and publish (write-audit-publish) only if no ``error`` check failed.

An executor supplies a :class:`CheckEngine` (how to run a query on it) and, for publishing,
a function that writes the audited rows where readers look.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

from lakeroutine.context import TaskContext
from lakeroutine.lineage import Assertion, Dataset
from lakeroutine.sql.check_schema import schema_query
from lakeroutine.sql.check_sql import CheckDialect, CompiledChecks, compile_checks
from lakeroutine.sql.check_verdicts import (
    FAILED,
    PASSED,
    WARNED,
    ChecksFailed,
    failure_message,
    judge,
    masked_rows,
    summary,
)
from lakeroutine.sql.checks import CheckArgs
from lakeroutine.state.base import TaskState

STATE_SCOPE = "lakeroutine:checks"
"""Values checks keep between runs (the last accepted row count), per executor and table."""


class CheckEngine(Protocol):
    """How the ``check`` task reaches an executor's engine."""

    dialect: CheckDialect

    def rows(self, sql: str, step: str) -> tuple[list[str], list[list[Any]]]:
        """Run one query (``step`` names it within the task); its columns and rows."""
        ...

    def report(self) -> dict[str, Any]:
        """What the task's output adds about its queries (ids, bytes scanned, cost)."""
        ...


Publisher = Callable[[CompiledChecks, dict[str, int]], dict[str, Any]]
"""Writes the audited rows (and the quarantined ones) once the audit passed."""


def run_check_task(
    args: CheckArgs,
    ctx: TaskContext,
    engine: CheckEngine,
    *,
    table_sql: str,
    table_label: str,
    schema_name: str,
    other_table: Callable[[str], str] | None = None,
    publish: Publisher | None = None,
    dataset: Dataset | None = None,
) -> dict[str, Any]:
    """Run the task; its output lists every check's outcome. Raises :class:`ChecksFailed`
    (with the same output) when an ``error`` check fails: then nothing is published.
    ``dataset`` is the checked table as lineage names it: the outcomes are declared on it."""
    compiled = compile_checks(
        args, table_sql=table_sql, dialect=engine.dialect, other_table=other_table
    )
    row = _scan(compiled, engine) if compiled.needs_scan else {}
    schema_rows = None
    if any(check.kind == "schema" for check in args.checks):
        _, found = engine.rows(schema_query(schema_name, args.table, engine.dialect), "schema")
        schema_rows = [(str(r[0]), str(r[1])) for r in found]
    kept = TaskState(ctx.run.state, f"{STATE_SCOPE}:{ctx.executor}:{args.table}")
    outcomes = judge(
        compiled,
        row,
        now=dt.datetime.now(dt.timezone.utc),
        previous_rows=kept.get("rows"),
        schema_rows=schema_rows,
    )
    if dataset is not None:
        ctx.lineage.checked(dataset, *assertions(args, outcomes))
    _sample(compiled, engine, outcomes)
    for outcome in outcomes:
        if outcome["status"] == WARNED:
            ctx.logger.warning(
                "check %s on %s warned: %s", outcome["check"], table_label, outcome["detail"]
            )
    counts = summary(outcomes)
    output: dict[str, Any] = {
        "table": table_label,
        "rows": row.get("lr_rows"),
        **{key: counts[key] for key in ("passed", "warned", "failed")},  # the run summary's line
        "summary": counts,
        "checks": outcomes,
    }
    if counts[FAILED]:
        output.update(engine.report())
        raise ChecksFailed(failure_message(table_label, outcomes), output)
    if any(check.kind == "row_count" for check in args.checks) and compiled.needs_scan:
        kept.set("rows", int(row.get("lr_rows") or 0))
    if publish is not None:
        held = {
            o["check"]: o["failing_rows"] for o in outcomes if o["check"] in _quarantining(args)
        }
        output["published"] = publish(compiled, held)
    output.update(engine.report())
    return output


def _scan(compiled: CompiledChecks, engine: CheckEngine) -> dict[str, Any]:
    """The scan's one row; on DuckDB, the range of integer ``unique`` keys first (counted in
    a bitmap), and the scan again with the keys hashed if rows came in between."""

    def one_row(step: str) -> dict[str, Any]:
        columns, rows = engine.rows(compiled.query, step)
        return dict(zip(columns, rows[0], strict=False)) if rows else {}

    if compiled.bounds_query is not None:
        _, found = engine.rows(compiled.bounds_query, "bounds")
        compiled.use_bounds(found[0] if found else [])
    row = one_row("scan")
    return one_row("rescan") if compiled.outside_bounds(row) else row


def assertions(args: CheckArgs, outcomes: list[dict[str, Any]]) -> list[Assertion]:
    """The outcomes as lineage assertions: kind, success (passed), column, name, severity."""
    declared = {check.label: check for check in args.checks}
    found = []
    for outcome in outcomes:
        check = declared.get(outcome["check"])
        column = getattr(check, "column", None)
        columns = getattr(check, "columns", None)  # unique: one column or several
        if column is None and isinstance(columns, list) and len(columns) == 1:
            column = columns[0]
        found.append(
            Assertion(
                outcome["kind"],
                success=outcome["status"] == PASSED,
                column=column if isinstance(column, str) else None,
                name=outcome["check"],
                severity=outcome["severity"],
            )
        )
    return found


def _quarantining(args: CheckArgs) -> set[str]:
    return {check.label for check in args.quarantining}


def _sample(compiled: CompiledChecks, engine: CheckEngine, outcomes: list[dict]) -> None:
    """Add a few failing rows (masked) to each check that warned or failed."""
    limit = compiled.args.sample_rows
    if not limit:
        return
    for number, outcome in enumerate(outcomes):
        if outcome["status"] not in (WARNED, FAILED) or not outcome.get("failing_rows"):
            continue
        sql = compiled.sample_query(outcome["check"], limit)
        if sql is None:
            continue
        columns, rows = engine.rows(sql, f"sample{number}")
        outcome["sample"] = masked_rows(columns, rows[:limit], compiled.args.mask_columns)
