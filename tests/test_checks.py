"""Check models, compilation and verdicts without an engine: the business-day calendar,
thresholds, row count changes, timestamps as engines print them, and one query per table
whatever the number of checks."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlglot
from lakeroutine.sql.check_sql import compile_checks
from lakeroutine.sql.check_verdicts import business_days_after, judge, parse_instant
from lakeroutine.sql.checks import CheckArgs
from lakeroutine.testing import check_golden as golden
from pydantic import ValidationError

NOW = dt.datetime(2024, 1, 8, 10, tzinfo=dt.timezone.utc)


def compiled(checks: list[dict], dialect: str = "duckdb", **args) -> object:
    parsed = CheckArgs.model_validate({"table": "t", "checks": checks, **args})
    return compile_checks(parsed, table_sql='"t"', dialect=dialect)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("last", "today", "days"),
    [
        ("2024-01-05", "2024-01-06", 0),  # Friday's data on Saturday
        ("2024-01-05", "2024-01-07", 0),  # and Sunday
        ("2024-01-05", "2024-01-08", 1),  # Monday
        ("2024-01-05", "2024-01-10", 3),
        ("2024-01-08", "2024-01-08", 0),
        ("2024-01-10", "2024-01-08", 0),  # from the future
    ],
)
def test_business_days(last: str, today: str, days: int) -> None:
    ends = dt.date.fromisoformat(last), dt.date.fromisoformat(today)
    assert business_days_after(*ends, weekend=[5, 6], holidays=[]) == days


def test_holidays_and_another_weekend_do_not_count() -> None:
    monday = dt.date(2024, 1, 8)
    assert business_days_after(dt.date(2024, 1, 5), monday, [5, 6], [monday]) == 0
    assert business_days_after(dt.date(2024, 1, 4), dt.date(2024, 1, 6), [4, 5], []) == 0


@pytest.mark.parametrize(
    "text",
    ["2024-01-05 17:30:00", "2024-01-05 17:30:00.000", "2024-01-05 17:30:00.000 UTC",
     "2024-01-05T17:30:00Z", "2024-01-05 17:30:00+00"],
)  # fmt: skip
def test_timestamps_as_each_engine_prints_them(text: str) -> None:
    assert parse_instant(text) == dt.datetime(2024, 1, 5, 17, 30, tzinfo=dt.timezone.utc)


def test_a_weekend_freshness_is_no_false_alarm() -> None:
    checks = [{"kind": "freshness", "column": "ts", "max_age_business_days": 0,
               "as_of": "2024-01-07T23:00:00Z"}]  # fmt: skip
    plan = compiled(checks)
    [outcome] = judge(plan, {"lr_rows": 3, "c0": "2024-01-05 18:00:00"}, now=NOW)
    assert outcome["status"] == "passed"


def test_thresholds_by_count_and_percent() -> None:
    checks = [
        {"kind": "not_null", "column": "a", "max_failing": 3},
        {"kind": "not_null", "name": "pct", "column": "a", "max_failing_percent": 2.5},
    ]
    plan = compiled(checks)
    outcomes = judge(plan, {"lr_rows": 100, "c0": 3, "c1": 3}, now=NOW)
    assert [o["status"] for o in outcomes] == ["passed", "failed"]
    assert outcomes[1]["failing_percent"] == 3.0


def test_row_count_change_from_an_empty_table_and_none_before() -> None:
    plan = compiled([{"kind": "row_count", "max_change_percent": 10}])
    [first] = judge(plan, {"lr_rows": 5}, now=NOW, previous_rows=None)
    [from_zero] = judge(plan, {"lr_rows": 5}, now=NOW, previous_rows=0)
    [same] = judge(plan, {"lr_rows": 105}, now=NOW, previous_rows=100)
    assert first["status"] == "passed" and "no earlier count" in first["detail"]
    assert from_zero["status"] == "failed"
    assert same["status"] == "passed"


@pytest.mark.parametrize("dialect", ["duckdb", "trino", "redshift"])
def test_all_checks_compile_into_one_statement(dialect: str) -> None:
    plan = compiled(golden.CHECKS, dialect=dialect, where="created_at >= DATE '2024-01-01'")
    read = {"duckdb": "duckdb", "trino": "athena", "redshift": "redshift"}[dialect]
    [statement] = sqlglot.parse(plan.query, read=read)
    assert isinstance(statement, sqlglot.exp.Select)
    assert plan.query.count('FROM "t" AS t') == (2 if dialect == "redshift" else 1)
    # one column per check of that one row, but row_count (lr_rows) and schema (the catalog)
    assert len(plan.columns) == len([c for c in golden.CHECKS if c["kind"] != "schema"]) - 1


def test_literals_and_names_cannot_break_out_of_the_query() -> None:
    plan = compiled(
        [{"kind": "accepted_values", "column": "a", "values": ["x') OR 1=1 --", "it's"]}],
        dialect="trino",
    )
    assert "'x'') OR 1=1 --', 'it''s'" in plan.query
    with pytest.raises(ValidationError, match="unsafe"):
        compiled([{"kind": "not_null", "column": 'a" OR 1=1'}])
    with pytest.raises(ValidationError, match="control character"):
        compiled([{"kind": "accepted_values", "column": "a", "values": ["\x00"]}])
    with pytest.raises(ValidationError, match="without ';'"):
        compiled([{"kind": "not_null", "column": "a"}], where="1=1; DROP TABLE t")


def test_redshift_doubles_backslashes_in_patterns() -> None:
    plan = compiled([{"kind": "regex", "column": "a", "pattern": r"^\d+$"}], dialect="redshift")
    assert r"~ '^\\d+$'" in plan.query
