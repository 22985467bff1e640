"""Verdicts of checks from the one row their compiled query returns: passed, warned or
failed per check, computed in Python so every engine gives the same answer from the same
counts. Also the business-day calendar of freshness checks and the task's error."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from lakeroutine.errors import TaskError
from lakeroutine.sql import checks as c
from lakeroutine.sql.check_schema import expected_type, found_type
from lakeroutine.sql.check_sql import ROWS, CompiledChecks

PASSED, WARNED, FAILED = "passed", "warned", "failed"
_ZONE = re.compile(r"\s*(UTC|Z|[+-]00(:?00)?)$", re.I)


class ChecksFailed(TaskError):
    """An ``error`` check failed: nothing was published. ``output`` holds every outcome."""

    def __init__(self, message: str, output: dict[str, Any]) -> None:
        super().__init__(message)
        self.output = output


def business_days_after(last: dt.date, today: dt.date, weekend: list[int], holidays: list) -> int:
    """Working days after ``last`` up to and including ``today`` (0 if ``today`` is not
    later): Friday's data checked on Saturday is 0 days old, on Monday 1."""
    days, day, off = 0, last, set(holidays)
    while day < today:
        day += dt.timedelta(days=1)
        if day.weekday() not in weekend and day not in off:
            days += 1
    return days


def parse_instant(value: Any) -> dt.datetime | None:
    """A date or timestamp as the engines print them (``2024-01-05``, ``2024-01-05
    10:00:00.000``, ``... UTC``), as an aware UTC datetime; None for NULL."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    text = _ZONE.sub("", str(value).strip()).replace("T", " ")
    head, _, fraction = text.partition(".")
    try:
        parsed = dt.datetime.fromisoformat(head)
    except ValueError:
        raise TaskError(f"freshness: cannot read {str(value)[:40]!r} as a date or time") from None
    if fraction.isdigit():
        parsed = parsed.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return parsed.replace(tzinfo=parsed.tzinfo or dt.timezone.utc)


def _number(value: Any) -> int:
    return int(float(value)) if value not in (None, "") else 0


def _outcome(check: Any, violated: bool, detail: str, **extra: Any) -> dict[str, Any]:
    status = PASSED if not violated else (FAILED if check.severity == "error" else WARNED)
    return {
        "check": check.label,
        "kind": check.kind,
        "severity": check.severity,
        "status": status,
        **extra,
        "detail": detail,
    }


def _counted(check: Any, failing: int, rows: int) -> dict[str, Any]:
    allowed = check.allowed(rows)
    percent = round(100.0 * failing / rows, 4) if rows else 0.0
    shown = (
        f"{check.max_failing_percent:g}%"
        if check.max_failing_percent is not None
        else ("any: quarantined" if allowed == float("inf") else f"{allowed:g}")
    )
    detail = f"{failing} of {rows} rows fail (allowed {shown})"
    return _outcome(check, failing > allowed, detail, failing_rows=failing, failing_percent=percent)


def _row_count(check: c.RowCount, rows: int, previous: int | None) -> dict[str, Any]:
    problems = []
    if check.min is not None and rows < check.min:
        problems.append(f"fewer than {check.min}")
    if check.max is not None and rows > check.max:
        problems.append(f"more than {check.max}")
    change = None
    if check.max_change_percent is not None and previous is not None:
        change = round(100.0 * (rows - previous) / previous, 4) if previous else None
        moved = rows != previous if previous == 0 else abs(change or 0) > check.max_change_percent
        if moved:
            problems.append(
                f"changed by {change if change is not None else 'all'}% from {previous} "
                f"(allowed {check.max_change_percent:g}%)"
            )
    detail = f"{rows} rows" + (f": {'; '.join(problems)}" if problems else "")
    if check.max_change_percent is not None and previous is None:
        detail += " (no earlier count to compare with)"
    return _outcome(check, bool(problems), detail, rows=rows, previous_rows=previous)


def _freshness(check: c.Freshness, newest: Any, now: dt.datetime) -> dict[str, Any]:
    at = check.as_of or now
    at = at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
    last = parse_instant(newest)
    if last is None:
        return _outcome(check, True, "no values: the table is empty or the column all NULL")
    extra = {"newest": last.isoformat()}
    if check.max_age_hours is not None:
        age = (at - last).total_seconds() / 3600.0
        late = age > check.max_age_hours
        return _outcome(
            check, late, f"newest is {age:.1f} h old (allowed {check.max_age_hours:g} h)", **extra
        )
    days = business_days_after(last.date(), at.date(), check.weekend, check.holidays)
    limit = check.max_age_business_days or 0
    detail = f"newest is {days} business days old (allowed {limit})"
    return _outcome(check, days > limit, detail, **extra)


def _schema(check: c.Schema, found: list[tuple[str, str]], dialect: str) -> dict[str, Any]:
    actual = {str(name).lower(): found_type(kind, dialect) for name, kind in found}  # type: ignore[arg-type]
    problems = []
    for name, hive_type in check.columns.items():
        want = expected_type(hive_type, dialect)  # type: ignore[arg-type]
        if name not in actual:
            problems.append(f"column {name} is missing")
        elif want is not None and actual[name] != want:
            problems.append(f"column {name} is {actual[name]}, expected {want}")
    if check.exact:
        problems += [f"unexpected column {name}" for name in actual if name not in check.columns]
    if not actual:
        problems = ["table not found or has no columns"]
    return _outcome(check, bool(problems), "; ".join(problems) or "columns as expected")


def judge(
    compiled: CompiledChecks,
    row: dict[str, Any] | None,
    *,
    now: dt.datetime,
    previous_rows: int | None = None,
    schema_rows: list[tuple[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """One outcome per check, in the order declared, from the scan's row (by column name)
    and the catalog's columns (for schema checks)."""
    row = row or {}
    rows = _number(row.get(ROWS))
    outcomes = []
    for check in compiled.args.checks:
        value = row.get(compiled.columns.get(check.label, ""))
        if check.kind == "row_count":
            outcomes.append(_row_count(check, rows, previous_rows))
        elif check.kind == "freshness":
            outcomes.append(_freshness(check, value, now))
        elif check.kind == "schema":
            outcomes.append(_schema(check, schema_rows or [], compiled.dialect))
        else:
            outcomes.append(_counted(check, _number(value), rows))
    return outcomes


def summary(outcomes: list[dict[str, Any]]) -> dict[str, int]:
    """How many checks passed, warned and failed."""
    counts = {PASSED: 0, WARNED: 0, FAILED: 0}
    for outcome in outcomes:
        counts[outcome["status"]] += 1
    return {"checks": len(outcomes), **counts}


def masked_rows(
    columns: list[str], rows: list[list[Any]], mask_columns: list[str]
) -> list[dict[str, Any]]:
    """Sample rows as objects, with ``mask_columns`` shown as ``***``."""
    hidden = {name.lower() for name in mask_columns}
    return [
        {
            name: ("***" if name.lower() in hidden and value is not None else value)
            for name, value in zip(columns, row, strict=False)
        }
        for row in rows
    ]


def failure_message(table: str, outcomes: list[dict[str, Any]]) -> str:
    """``N error checks failed on TABLE: name (detail; sample: ...), ...``."""
    failed = [o for o in outcomes if o["status"] == FAILED]
    parts = []
    for outcome in failed:
        text = f"{outcome['check']} ({outcome['detail']}"
        if outcome.get("sample"):
            text += f"; sample: {outcome['sample'][:3]}"
        parts.append(text + ")")
    noun = "check" if len(failed) == 1 else "checks"
    return f"{len(failed)} error {noun} failed on {table}, nothing published: " + ", ".join(parts)
