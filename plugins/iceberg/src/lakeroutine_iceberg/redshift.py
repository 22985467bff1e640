"""The Iceberg tasks that apply to Redshift: an external schema over the Glue database the
tables are in, and queries reading them (Redshift reads Iceberg v1 and v2 tables of the Glue
Data Catalog through such a schema; it has no time travel). Statements go through the
RedshiftExecutor's Data API runner, each id saved before waiting."""

from __future__ import annotations

import re
from typing import Any

from lakeroutine.context import TaskContext
from lakeroutine.errors import TaskRefused

_TIME_TRAVEL = re.compile(r"\bFOR\s+(VERSION|TIMESTAMP|SYSTEM_TIME)\s+AS\s+OF\b", re.IGNORECASE)


def external_schema_sql(schema: str, glue_database: str, iam_role: str, region: str | None) -> str:
    """``CREATE EXTERNAL SCHEMA IF NOT EXISTS "s" FROM DATA CATALOG DATABASE 'db'
    IAM_ROLE 'arn' [REGION 'r']``, every name and literal quoted."""
    from lakeroutine_redshift.sql import ident, literal

    sql = (
        f"CREATE EXTERNAL SCHEMA IF NOT EXISTS {ident(schema)} FROM DATA CATALOG "
        f"DATABASE {literal(glue_database)} IAM_ROLE {literal(iam_role)}"
    )
    return sql + (f" REGION {literal(region)}" if region else "")


def _run(executor: Any, ctx: TaskContext, sql: str) -> dict[str, Any]:
    from lakeroutine_redshift.dataapi import SqlStep, StatementRunner

    ctx.lineage.query(sql, dialect="redshift")
    (report,) = StatementRunner(executor.client, executor.params, ctx).run([SqlStep(sql)])
    return report


def iceberg_external_schema(executor: Any, args: Any, ctx: TaskContext) -> dict[str, Any]:
    """Create the external schema over the Glue database (kept if it exists)."""
    sql = external_schema_sql(args.schema_, args.glue_database, args.iam_role, args.region)
    report = _run(executor, ctx, sql)
    return {"schema": args.schema_, "glue_database": args.glue_database, "statement": report}


def iceberg_query(executor: Any, args: Any, ctx: TaskContext) -> dict[str, Any]:
    """Run a query over Iceberg tables of an external schema; a preview of its rows."""
    from lakeroutine_redshift.results import fetch_rows

    if _TIME_TRAVEL.search(args.sql):
        raise TaskRefused(
            "Redshift has no time travel on Iceberg tables: run FOR VERSION AS OF on "
            "Athena, Glue or the twin",
            field="args.sql",
        )
    executor._declare_reads(ctx, args.sql)
    report = _run(executor, ctx, args.sql)
    output: dict[str, Any] = {"statement": report}
    if report.get("has_result_set") and args.preview_rows:
        output["result"] = fetch_rows(executor.client, report["id"], args.preview_rows)
    return output
