"""Queries over Iceberg tables on DuckDB, with Athena's time-travel syntax.

The SQL is parsed in Athena's (Trino's) dialect; every table it names that is an Iceberg
table of the target is read through pyiceberg into Arrow (at ``FOR VERSION AS OF <snapshot
id>`` or ``FOR TIMESTAMP AS OF TIMESTAMP '...'`` when given) and handed to DuckDB under a
private name. The same text runs on Athena unchanged; DuckDB needs no ``iceberg`` extension.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from lakeroutine.errors import TaskError

from lakeroutine_iceberg.targets import Target

_names = itertools.count()


def _snapshot_id(table: Any, version: Any, label: str) -> int | None:
    from sqlglot import exp

    if version is None:
        return None
    kind = str(version.this).upper()
    value = version.expression
    if kind == "VERSION":
        if not isinstance(value, exp.Literal) or value.is_string:
            raise TaskError(f"{label}: FOR VERSION AS OF takes a snapshot id (a number)")
        snapshot_id = int(value.this)
        if table.snapshot_by_id(snapshot_id) is None:
            raise TaskError(f"{label} has no snapshot {snapshot_id}")
        return snapshot_id
    literal = value.this if isinstance(value, exp.Cast) else value
    if not isinstance(literal, exp.Literal) or not literal.is_string:
        raise TaskError(f"{label}: FOR TIMESTAMP AS OF takes TIMESTAMP '...'")
    when = dt.datetime.fromisoformat(literal.this)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    snapshot = table.snapshot_as_of_timestamp(int(when.timestamp() * 1000))
    if snapshot is None:
        raise TaskError(f"{label} has no snapshot as of {literal.this}")
    return snapshot.snapshot_id


def rewrite(target: Target, sql: str) -> tuple[str, dict[str, Any]]:
    """DuckDB SQL for ``sql`` and the Arrow tables to register under their private names."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        statements = sqlglot.parse(sql, read="trino")
    except ParseError as exc:
        raise TaskError(f"cannot parse the query: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1 or statements[0] is None:
        raise TaskError("give one query")
    tree = statements[0]
    arrows: dict[str, Any] = {}
    for node in list(tree.find_all(exp.Table)):
        if not node.name or (node.db and node.db.lower() != target.namespace):
            continue
        name = node.name.lower()
        if not target.exists(name):
            if node.args.get("version") is not None:
                raise TaskError(f"{target.namespace}.{name} is not an Iceberg table")
            continue
        table = target.load(name)
        label = f"{target.namespace}.{name}"
        snapshot_id = _snapshot_id(table, node.args.get("version"), label)
        private = f"__iceberg_{name}_{next(_names)}"
        arrows[private] = table.scan(snapshot_id=snapshot_id).to_arrow()
        alias = node.alias or name
        node.replace(exp.to_table(private).as_(alias))
    return tree.sql(dialect="duckdb"), arrows


def run_with_iceberg(target: Target, sql: str) -> Any:
    """The query's rows as an Arrow table."""
    text, arrows = rewrite(target, sql)
    con = target.duckdb()
    for private, arrow in arrows.items():
        con.register(private, arrow)
    try:
        return con.sql(text).to_arrow_table()
    finally:
        for private in arrows:
            con.unregister(private)
