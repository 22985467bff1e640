"""``iceberg_check``: the ``check`` task on an Iceberg branch (write-audit-publish with the
branch as the audit place). The branch's head is read into a private DuckDB connection as a
view named like the table, the checks run there as one query (the same compiled SQL as the
twin's ``check``), and with ``fast_forward`` main moves to the branch's head only when no
``error`` check failed; a failed audit leaves main untouched."""

from __future__ import annotations

from typing import Any

from lakeroutine.context import TaskContext
from lakeroutine.sql.checks import BranchCheckArgs
from lakeroutine.sql.tables import quote_identifier

from lakeroutine_iceberg.branches import branch_snapshot, fast_forward
from lakeroutine_iceberg.targets import Target


class BranchEngine:
    """Runs the check queries on a private DuckDB connection holding the audited rows."""

    dialect = "duckdb"

    def __init__(self, con: Any, ctx: TaskContext) -> None:
        self.con = con
        self.ctx = ctx
        self.queries = 0

    def rows(self, sql: str, step: str) -> tuple[list[str], list[list[Any]]]:
        self.ctx.check_cancelled()
        self.queries += 1
        cursor = self.con.execute(sql)
        columns = [d[0] for d in cursor.description or []]
        return columns, [[_plain(v) for v in row] for row in cursor.fetchall()]

    def report(self) -> dict[str, Any]:
        return {"queries": self.queries}


def _plain(value: Any) -> Any:
    """A value as JSON holds it (dates and decimals as text)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _expose(con: Any, target: Target, table: str, snapshot_id: int | None) -> str:
    """``table`` as of ``snapshot_id`` (main's head if None) as a view in the connection's
    own catalog (where the schema check looks); its quoted name."""
    import pyarrow as pa

    loaded = target.load(table)
    if snapshot_id is None and loaded.current_snapshot() is None:
        rows = pa.Table.from_pylist([], schema=loaded.schema().as_arrow())
    else:
        rows = loaded.scan(snapshot_id=snapshot_id).to_arrow()
    private = f"lr_rows_{table}"
    con.register(private, rows)
    name = quote_identifier(table, "duckdb")
    con.execute(f"CREATE OR REPLACE VIEW main.{name} AS SELECT * FROM {private}")
    return name


def check(target: Target, args: BranchCheckArgs, ctx: TaskContext) -> dict[str, Any]:
    """Check the branch's head; publish it (fast-forward main) if asked and no error
    check failed."""
    import duckdb
    from lakeroutine.sql.check_task import run_check_task

    table = target.load(args.table)
    head = branch_snapshot(table, args.branch)
    label = f"{target.namespace}.{args.table}@{args.branch}"
    con = duckdb.connect()
    try:
        audited = _expose(con, target, args.table, head)
        output = run_check_task(
            args,
            ctx,
            BranchEngine(con, ctx),
            table_sql=audited,
            table_label=label,
            schema_name="main",
            other_table=lambda name: _expose(con, target, name, None),
        )
    finally:
        con.close()
    output["snapshot_id"] = head
    if args.fast_forward:
        output["published"] = fast_forward(target.load(args.table), args.branch)
    return output
