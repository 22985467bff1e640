"""The tables a SQL text reads, as sqlglot parses it in an engine's dialect: for executors
whose engine cannot say so itself (Athena, Redshift), to declare them for lineage.

sqlglot is imported only when a task calls this; the executors that do depend on it. Best
effort: text sqlglot cannot parse reads nothing here (the engine reports its own errors).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

_WRITES = frozenset(("Insert", "Create", "Delete", "Update", "Merge", "Alter", "Copy"))
_READ_NOTHING = frozenset(("Drop", "TruncateTable"))
"""Statements whose ``this`` is the table they write, not one they read; those of
``_READ_NOTHING`` only remove or empty tables."""


class _Quiet(logging.Filter):
    """Drops sqlglot's records while this thread parses for lineage."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_QUIET, "on", False)


_QUIET = threading.local()
logging.getLogger("sqlglot").addFilter(_Quiet())


def tables_read(sql: str, dialect: str) -> list[tuple[str, ...]]:
    """Each table ``sql`` (one or several statements) reads, once, as its qualified name's
    parts in lower case as Athena and Redshift fold them (``("db", "table")``,
    ``("table",)``...); CTE names, the tables statements write and the tables the text itself
    creates (a temporary table filled then read) are left out."""
    try:
        import sqlglot
        from sqlglot import exp
    except ImportError:  # pragma: no cover - the calling executors depend on sqlglot
        return []
    _QUIET.on = True  # sqlglot logs text it cannot parse, which may hold a password
    try:
        statements = sqlglot.parse(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return []
    finally:
        _QUIET.on = False
    found: list[tuple[str, ...]] = []
    created: set[tuple[str, ...]] = set()
    for statement in statements:
        if statement is None or type(statement).__name__ in _READ_NOTHING:
            continue
        written = _written(statement, exp)
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            parts = tuple(p.name.lower() for p in table.parts)
            if id(table) in written:
                if isinstance(statement, exp.Create):
                    created.add(parts)
                continue
            if not table.name or (len(parts) == 1 and parts[0] in ctes) or parts in created:
                continue
            if parts not in found:
                found.append(parts)
    return found


def _written(statement: Any, exp: Any) -> set[int]:
    """The ids of the table nodes ``statement`` writes (its target)."""
    if type(statement).__name__ not in _WRITES:
        return set()
    target = statement.this
    if isinstance(target, exp.Schema):  # CREATE TABLE t (columns)
        target = target.this
    return {id(target)} if isinstance(target, exp.Table) else set()
