"""Every check on a table compiled into ONE query per dialect (one pass over the table), plus
the queries a failure or a publish needs: a sample of failing rows, the rows to publish and
the rows to quarantine. Dialects: ``duckdb`` (the twin), ``trino`` (Athena), ``redshift``.

The scan query's single row holds ``lr_rows`` (rows checked) and one column per check
(``c0``, ``c1``...: failing rows, or the newest value for freshness); the verdicts are
computed from it in Python (:mod:`lakeroutine.sql.check_verdicts`), the same on every
engine. On DuckDB a ``unique`` integer key is counted in a bitmap once a query reading only
its range has run (:mod:`lakeroutine.sql.check_keys`; the row then also holds
``lr_outside_cN``, keys found outside that range). Every identifier is validated and
quoted, every literal quoted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lakeroutine.sql import checks as c
from lakeroutine.sql.check_keys import (
    Bounds,
    bitmap_bounds,
    bounds_select,
    distinct_keys,
    outside,
)
from lakeroutine.sql.tables import quote_identifier

CheckDialect = Literal["duckdb", "trino", "redshift"]
ROWS = "lr_rows"
_KEY = '"lr_key"'
_HIT = '"lr_hit"'
_OUTSIDE = "lr_outside_"


def ident(name: str, dialect: CheckDialect) -> str:
    """A validated, double-quoted name (the three dialects quote alike)."""
    return quote_identifier(name, "duckdb" if dialect == "duckdb" else "trino")


def literal(value: Any, dialect: CheckDialect) -> str:
    """A number bare, anything else a quoted string; Redshift doubles backslashes too (it
    reads them as escapes)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))  # an integer literal: DuckDB casts the column to DECIMAL for 0.0
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text):
        raise ValueError(f"control character in SQL literal {text[:20]!r}")
    if dialect == "redshift":
        text = text.replace("\\", "\\\\")
    return "'" + text.replace("'", "''") + "'"


def _column(check: Any, dialect: CheckDialect) -> str:
    return f"t.{ident(check.column, dialect)}"


def _text(expr: str) -> str:
    return f"CAST({expr} AS VARCHAR)"


@dataclass
class CompiledChecks:
    """The SQL of one ``check`` task on one table, in one dialect."""

    args: c.CheckArgs
    dialect: CheckDialect
    table_sql: str
    joins: list[str] = field(default_factory=list)
    predicates: dict[str, str] = field(default_factory=dict)  # label -> failing-row test
    held_joins: list[str] = field(default_factory=list)  # only when publishing: unique, custom
    columns: dict[str, str] = field(default_factory=dict)  # label -> result column
    expressions: list[str] = field(default_factory=list)
    keys: dict[int, tuple[str, str]] = field(default_factory=dict)  # expression -> key, alias
    key_bounds: dict[str, Bounds] = field(default_factory=dict)  # key column -> bitmap range

    @property
    def from_clause(self) -> str:
        """``FROM table AS t`` with the relationship joins."""
        return "\n".join([f"FROM {self.table_sql} AS t", *self.joins])

    @property
    def held_from_clause(self) -> str:
        """The FROM clause of the publish and quarantine queries: with the joins that find
        the rows held back by ``unique`` and ``custom_sql`` checks (never in the scan)."""
        return "\n".join([self.from_clause, *self.held_joins])

    def _where(self, *conditions: str) -> str:
        parts = ([f"({self.args.where})"] if self.args.where else []) + list(conditions)
        return f"\nWHERE {' AND '.join(parts)}" if parts else ""

    @property
    def needs_scan(self) -> bool:
        """Whether any check reads the table's rows (a schema check reads the catalog)."""
        return any(check.kind != "schema" for check in self.args.checks)

    @property
    def query(self) -> str:
        """The one scan: row count and one column per check (a ``unique`` key with known
        bounds counted in a bitmap)."""
        expressions = list(self.expressions)
        for number, (col, alias) in self.keys.items():
            if col in self.key_bounds:
                bounds = self.key_bounds[col]
                expressions[number] = f"count({col}) - {distinct_keys(col, bounds)} AS {alias}"
                expressions.append(f"{outside(col, bounds)} AS {_OUTSIDE}{alias}")
        select = ",\n  ".join([f"count(*) AS {ROWS}", *expressions])
        return f"SELECT\n  {select}\n{self.from_clause}{self._where()}"

    @property
    def bounds_query(self) -> str | None:
        """DuckDB, before the scan: the range of each single-column ``unique`` key, read
        from that column alone (None when no such check)."""
        if not self.keys:
            return None
        columns = self._key_columns
        return f"SELECT {bounds_select(columns)}\nFROM {self.table_sql} AS t{self._where()}"

    @property
    def _key_columns(self) -> list[str]:
        return list(dict.fromkeys(col for col, _ in self.keys.values()))

    def outside_bounds(self, row: dict[str, Any]) -> bool:
        """Whether the scan's ``row`` found keys outside the bounds read before it (rows
        written in between): then the bounds are dropped, and the scan must run again."""
        if not any(row.get(f"{_OUTSIDE}{alias}") for _, alias in self.keys.values()):
            return False
        self.key_bounds.clear()
        return True

    def use_bounds(self, found: list[Any]) -> None:
        """Keep, from the bounds query's row, the keys a bitmap can count."""
        columns = self._key_columns
        for number, col in enumerate(columns):
            bounds = bitmap_bounds(list(found[3 * number : 3 * number + 3]))
            if bounds is not None:
                self.key_bounds[col] = bounds

    def sample_query(self, label: str, limit: int) -> str | None:
        """A few rows failing the check ``label`` (None for checks without rows)."""
        check = self._check(label)
        if check.kind in c.ROW_LEVEL:
            where = self._where(f"({self.predicates[label]})")
            return f"SELECT t.*\n{self.from_clause}{where}\nLIMIT {limit}"
        if check.kind == "unique":
            keys = ", ".join(f"t.{ident(n, self.dialect)}" for n in check.columns)
            where = self._where(_all_present(check, self.dialect))
            return (
                f"SELECT {keys}, count(*) AS {ident('lr_duplicates', self.dialect)}\n"
                f"FROM {self.table_sql} AS t{where}\nGROUP BY {keys}\n"
                f"HAVING count(*) > 1\nLIMIT {limit}"
            )
        if check.kind == "custom_sql":
            return f"SELECT *\nFROM (\n{check.sql}\n) AS lr_custom\nLIMIT {limit}"
        return None

    def publish_query(self) -> str:
        """The audited rows that go to the published table: all but those failing a
        ``quarantine: true`` check."""
        held = [self.predicates[check.label] for check in self.args.quarantining]
        keep = [f"NOT ({' OR '.join(f'({p})' for p in held)})"] if held else []
        return f"SELECT t.*\n{self.held_from_clause}{self._where(*keep)}"

    def quarantine_query(self) -> str | None:
        """The rows failing a ``quarantine: true`` check, each with ``_check`` (its name)
        and ``_reason``; a row failing two such checks appears twice."""
        parts = []
        for check in self.args.quarantining:
            label = check.label
            parts.append(
                f"SELECT t.*, {literal(label, self.dialect)} AS {ident('_check', self.dialect)}, "
                f"{literal(reason(check), self.dialect)} AS {ident('_reason', self.dialect)}\n"
                f"{self.held_from_clause}{self._where(f'({self.predicates[label]})')}"
            )
        return "\nUNION ALL\n".join(parts) or None

    def _check(self, label: str) -> Any:
        return next(check for check in self.args.checks if check.label == label)


def _all_present(check: c.Unique, dialect: CheckDialect) -> str:
    return " AND ".join(f"t.{ident(n, dialect)} IS NOT NULL" for n in check.columns)


def reason(check: Any) -> str:
    """Why a row fails a row-level check, in words (the quarantine's ``_reason``)."""
    column = getattr(check, "column", "")
    if check.kind == "not_null":
        return f"{column} is NULL"
    if check.kind == "accepted_values":
        shown = ", ".join(map(str, check.values[:10])) + (", ..." if len(check.values) > 10 else "")
        return f"{column} is not one of {shown}"
    if check.kind == "range":
        low = "-inf" if check.min is None else f"{check.min:g}"
        high = "+inf" if check.max is None else f"{check.max:g}"
        return f"{column} is outside [{low}, {high}]"
    if check.kind == "regex":
        return f"{column} does not match {check.pattern}"
    if check.kind == "relationship":
        return f"{column} is not in {check.to_table}.{check.to_column}"
    if check.kind == "unique":
        return f"{', '.join(check.columns)} is shared by another row"
    if check.kind == "custom_sql":
        return f"returned by the query of {check.label}"
    return check.kind


def _predicate(check: Any, dialect: CheckDialect, key: str) -> str:
    """The test a failing row passes (never NULL: a NULL value fails only not_null)."""
    col = _column(check, dialect)
    if check.kind == "not_null":
        return f"{col} IS NULL"
    if check.kind == "accepted_values":
        values = ", ".join(literal(v, dialect) for v in check.values)
        return f"{col} IS NOT NULL AND {col} NOT IN ({values})"
    if check.kind == "range":
        tests = []
        if check.min is not None:
            tests.append(f"{col} < {literal(check.min, dialect)}")
        if check.max is not None:
            tests.append(f"{col} > {literal(check.max, dialect)}")
        return f"{col} IS NOT NULL AND ({' OR '.join(tests)})"
    if check.kind == "regex":
        pattern = literal(check.pattern, dialect)
        if dialect == "duckdb":
            match = f"regexp_matches({_text(col)}, {pattern})"
        elif dialect == "trino":
            match = f"regexp_like({_text(col)}, {pattern})"
        else:
            match = f"{_text(col)} ~ {pattern}"
        return f"{col} IS NOT NULL AND NOT ({match})"
    if check.kind == "relationship":
        return f"{col} IS NOT NULL AND {key}.{_KEY} IS NULL"
    raise ValueError(f"{check.kind} has no row predicate")


def _unique(check: c.Unique, dialect: CheckDialect, table_sql: str, where: str | None) -> str:
    """Rows beyond the first of each duplicated key."""
    present = _all_present(check, dialect)
    if len(check.columns) == 1:
        col = f"t.{ident(check.columns[0], dialect)}"
        return f"count({col}) - count(DISTINCT {col})"
    keys = ", ".join(f"t.{ident(n, dialect)}" for n in check.columns)
    if dialect != "redshift":
        return (
            f"count(CASE WHEN {present} THEN 1 END) - "
            f"count(DISTINCT CASE WHEN {present} THEN ROW({keys}) END)"
        )
    # Redshift has no row values: a grouped subquery (its own pass over the table)
    filt = f"({where}) AND {present}" if where else present
    return (
        f"(SELECT coalesce(sum(lr_n - 1), 0) FROM (SELECT count(*) AS lr_n FROM {table_sql} AS t "
        f"WHERE {filt} GROUP BY {keys}) AS lr_groups)"
    )


def _held_join(compiled: CompiledChecks, check: Any, number: int) -> str:
    """A join marking the rows a ``unique`` or ``custom_sql`` check holds back (their key
    among the duplicated keys, or among the custom query's rows), and their predicate."""
    dialect, alias = compiled.dialect, f"h{number}"
    keys = check.columns if check.kind == "unique" else check.key
    names = [ident(f"lr_k{i}", dialect) for i in range(len(keys))]
    if check.kind == "unique":
        grouped = ", ".join(f"t.{ident(k, dialect)}" for k in keys)
        filt = _all_present(check, dialect)
        if compiled.args.where:
            filt = f"({compiled.args.where}) AND {filt}"
        source = (
            f"SELECT {grouped}\nFROM {compiled.table_sql} AS t WHERE {filt}\n"
            f"GROUP BY {grouped} HAVING count(*) > 1"
        )
    else:
        source = check.sql
    picked = ", ".join(f"{ident(k, dialect)} AS {n}" for k, n in zip(keys, names, strict=True))
    on = " AND ".join(
        f"t.{ident(k, dialect)} = {alias}.{n}" for k, n in zip(keys, names, strict=True)
    )
    compiled.held_joins.append(
        f"LEFT JOIN (SELECT DISTINCT {picked}, 1 AS {_HIT} FROM (\n{source}\n) AS lr_src{number})"
        f" AS {alias} ON {on}"
    )
    return f"{alias}.{_HIT} IS NOT NULL"


def compile_checks(
    args: c.CheckArgs,
    *,
    table_sql: str,
    dialect: CheckDialect,
    other_table: Any = None,
) -> CompiledChecks:
    """Compile ``args.checks`` on ``table_sql`` (the quoted, qualified table) for
    ``dialect``; ``other_table(name)`` quotes a relationship's target table."""
    if dialect not in ("duckdb", "trino", "redshift"):
        raise ValueError(f"unknown check dialect {dialect!r}")
    compiled = CompiledChecks(args, dialect, table_sql)
    for number, check in enumerate(args.checks):
        alias = f"c{number}"
        label = check.label
        expr: str | None = None
        if check.kind == "relationship":
            key = f"r{number}"
            target = other_table(check.to_table) if other_table else ident(check.to_table, dialect)
            to_col = ident(check.to_column, dialect)
            compiled.joins.append(
                f"LEFT JOIN (SELECT DISTINCT {to_col} AS {_KEY} FROM {target} "
                f"WHERE {to_col} IS NOT NULL) AS {key} ON {_column(check, dialect)} = {key}.{_KEY}"
            )
            compiled.predicates[label] = _predicate(check, dialect, key)
        elif check.kind in c.ROW_LEVEL:
            compiled.predicates[label] = _predicate(check, dialect, "")
        if check.kind in ("unique", "custom_sql") and check.quarantine:
            compiled.predicates[label] = _held_join(compiled, check, number)
        if check.kind == "not_null":  # the column's validity mask, no per-row CASE
            expr = f"count(*) - count({_column(check, dialect)})"
        elif check.kind in c.ROW_LEVEL:  # count, not sum: BIGINT, no 128-bit adds
            expr = f"count(CASE WHEN {compiled.predicates[label]} THEN 1 END)"
        elif check.kind == "unique":
            expr = _unique(check, dialect, table_sql, args.where)
            if dialect == "duckdb" and len(check.columns) == 1:
                key = f"t.{ident(check.columns[0], dialect)}"
                compiled.keys[len(compiled.expressions)] = (key, alias)
        elif check.kind == "freshness":
            expr = _text(f"max(t.{ident(check.column, dialect)})")
        elif check.kind == "custom_sql":
            expr = f"(SELECT count(*) FROM (\n{check.sql}\n) AS lr_custom{number})"
        if expr is not None:
            compiled.columns[label] = alias
            compiled.expressions.append(f"{expr} AS {alias}")
    return compiled
