"""Data quality checks as a routine declares them: about ten kinds, each with a severity and
a threshold, validated offline with the rest of the routine.

A ``check`` task names a table and its checks; :mod:`lakeroutine.sql.check_sql` compiles
them all into one query per dialect and :mod:`lakeroutine.sql.check_verdicts` turns that
query's single row into a verdict per check. Only pydantic is imported here.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lakeroutine.sql.query_text import check_sql
from lakeroutine.sql.tables import ColumnTypeName, Identifier, quote_literal

Severity = Literal["warn", "error"]
Literal_ = str | int | float | bool

_CHECK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,127}")
ROW_LEVEL = ("not_null", "accepted_values", "range", "regex", "relationship")
"""Kinds whose failing rows can be told apart by a predicate (sampled, quarantined)."""


class _Check(BaseModel):
    """What every check has: a ``name`` (default: kind and column), a ``severity`` (``warn``
    reports, ``error`` fails the task and blocks publishing) and, for checks that count
    failing rows, a threshold: ``max_failing`` rows or ``max_failing_percent`` of rows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, description="Name in the report (default: kind_column)")
    severity: Severity = "error"
    max_failing: int | None = Field(None, ge=0, description="Failing rows tolerated")
    max_failing_percent: float | None = Field(
        None, ge=0, le=100, description="Failing rows tolerated, as a percent of rows"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _CHECK_NAME.fullmatch(value):
            raise ValueError(
                f"check name {value!r}: letters, digits, '_', '.', '-', at most 128 characters"
            )
        return value

    @model_validator(mode="after")
    def _one_threshold(self) -> _Check:
        if self.max_failing is not None and self.max_failing_percent is not None:
            raise ValueError("give max_failing or max_failing_percent, not both")
        return self

    @property
    def label(self) -> str:
        """The check's name in reports: ``name`` or ``kind_column``."""
        if self.name:
            return self.name
        column = getattr(self, "column", None) or "_".join(getattr(self, "columns", []) or [])
        kind = getattr(self, "kind", "check")
        return f"{kind}_{column}" if column and isinstance(column, str) else kind

    def allowed(self, rows: int) -> float:
        """How many failing rows pass, for a table of ``rows`` rows (a quarantining check
        without a threshold never fails: its rows are held back)."""
        if self.max_failing is None and self.max_failing_percent is None:
            return float("inf") if getattr(self, "quarantine", False) else 0.0
        if self.max_failing_percent is not None:
            return rows * self.max_failing_percent / 100.0
        return float(self.max_failing or 0)


class _RowCheck(_Check):
    """A check whose failing rows a predicate finds: they can be sampled and, with
    ``quarantine: true``, held back from publishing (written to the quarantine instead)."""

    column: Identifier
    quarantine: bool = Field(False, description="Hold failing rows back when publishing")


class NotNull(_RowCheck):
    """``column`` is never NULL."""

    kind: Literal["not_null"]


class AcceptedValues(_RowCheck):
    """``column`` holds only ``values`` (NULL passes: add not_null for that)."""

    kind: Literal["accepted_values"]
    values: list[Literal_] = Field(min_length=1, max_length=1000)

    @field_validator("values")
    @classmethod
    def _literals(cls, value: list[Any]) -> list[Any]:
        kinds = {type(v) in (int, float) for v in value}
        if len(kinds) > 1:
            raise ValueError("values must be all numbers or all text")
        for item in value:
            quote_literal(item, "trino")  # refuses control characters
        return value


class Range(_RowCheck):
    """``column`` between ``min`` and ``max``, both included (NULL passes)."""

    kind: Literal["range"]
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class Regex(_RowCheck):
    """``column`` (as text) matches ``pattern``, searched, not anchored: write ``^...$`` for
    the whole value. Keep to the syntax RE2, Java and POSIX share (Athena, DuckDB and
    Redshift each use one of them); NULL passes."""

    kind: Literal["regex"]
    pattern: str = Field(min_length=1, max_length=1000)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern {value!r} is not a regular expression: {exc}") from None
        for lookaround in ("(?=", "(?!", "(?<=", "(?<!", "(?P<"):
            if lookaround in value:
                raise ValueError(f"pattern uses {lookaround}...), which RE2 (DuckDB) lacks")
        quote_literal(value, "trino")
        return value


class Relationship(_RowCheck):
    """Every non-NULL ``column`` value is present in ``to_table.to_column`` (a foreign key)."""

    kind: Literal["relationship"]
    to_table: Identifier
    to_column: Identifier


class Unique(_Check):
    """No two rows share ``columns`` (one column or a combination; rows with a NULL in them
    are not compared). Failing rows: rows beyond the first of each duplicated key. With
    ``quarantine: true`` every row of a duplicated key is held back (none of them is known
    to be the right one)."""

    kind: Literal["unique"]
    columns: list[Identifier] = Field(min_length=1, max_length=32)
    quarantine: bool = Field(False, description="Hold every row of a duplicated key back")

    @model_validator(mode="before")
    @classmethod
    def _column(cls, data: Any) -> Any:
        if isinstance(data, dict) and "column" in data and "columns" not in data:
            data = {**data, "columns": [data["column"]]}
            del data["column"]
        return data


class RowCount(_Check):
    """The number of rows: at least ``min``, at most ``max``, and changed by at most
    ``max_change_percent`` from the last run's count (kept in the routine's state)."""

    kind: Literal["row_count"]
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)
    max_change_percent: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _something(self) -> RowCount:
        if self.min is None and self.max is None and self.max_change_percent is None:
            raise ValueError("give min, max or max_change_percent")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.max_failing is not None or self.max_failing_percent is not None:
            raise ValueError("row_count takes min, max and max_change_percent, not max_failing")
        return self


class Freshness(_Check):
    """The newest ``column`` value (a date or timestamp, UTC) is at most ``max_age_hours``
    old, or at most ``max_age_business_days`` business days old: days off (``weekend``,
    Monday being 0, and ``holidays``) do not count, so Friday's data is fresh on Monday."""

    kind: Literal["freshness"]
    column: Identifier
    max_age_hours: float | None = Field(None, gt=0)
    max_age_business_days: int | None = Field(None, ge=0)
    weekend: list[Annotated[int, Field(ge=0, le=6)]] = Field(default_factory=lambda: [5, 6])
    holidays: list[dt.date] = Field(default_factory=list)
    as_of: dt.datetime | None = Field(
        None, description="The time to measure age at (default: when the check runs)"
    )

    @model_validator(mode="after")
    def _one_age(self) -> Freshness:
        if (self.max_age_hours is None) == (self.max_age_business_days is None):
            raise ValueError("give exactly one of max_age_hours or max_age_business_days")
        if self.max_failing is not None or self.max_failing_percent is not None:
            raise ValueError("freshness takes a maximum age, not max_failing")
        return self


class Schema(_Check):
    """The table has ``columns`` with these types (Hive names, as in a table spec); with
    ``exact: true`` it has no others. Read from the catalog: no data is scanned."""

    kind: Literal["schema"]
    columns: dict[Identifier, ColumnTypeName] = Field(min_length=1)
    exact: bool = False

    @property
    def label(self) -> str:
        return self.name or "schema"


class CustomSql(_Check):
    """``sql``: a query returning the failing rows (none, when the data is good); its rows
    are counted against the threshold and the first few sampled. To quarantine them, name
    in ``key`` the columns the query returns that identify the checked table's rows: rows
    whose key the query returns are held back."""

    kind: Literal["custom_sql"]
    sql: str = Field(min_length=1)
    quarantine: bool = Field(False, description="Hold back the rows whose key the query returns")
    key: list[Identifier] = Field(
        default_factory=list, max_length=32, description="Columns matching the table's rows"
    )

    @model_validator(mode="after")
    def _key(self) -> CustomSql:
        if self.quarantine and not self.key:
            raise ValueError(
                "quarantine: give key, the columns of the query's rows that identify table rows"
            )
        return self

    @field_validator("sql")
    @classmethod
    def _query(cls, value: str) -> str:
        text = check_sql(value)
        first = re.sub(r"^(\s|\()+", "", text).split(None, 1)[0].upper()
        if first not in ("SELECT", "WITH", "VALUES") or ";" in text:
            raise ValueError("custom_sql must be one query (SELECT, WITH or VALUES)")
        return text

    @property
    def label(self) -> str:
        return self.name or "custom_sql"


Check = Annotated[
    NotNull
    | AcceptedValues
    | Range
    | Regex
    | Relationship
    | Unique
    | RowCount
    | Freshness
    | Schema
    | CustomSql,
    Field(discriminator="kind"),
]
"""One check of a ``check`` task, told apart by its ``kind``."""


class PublishArgs(BaseModel):
    """Where audited rows go once no ``error`` check fails (write-audit-publish): the table
    ``table`` (made or replaced over ``location`` where the executor writes files; ``mode``
    ``append`` adds the rows, ``replace`` makes them its only rows) and,
    for rows failing a ``quarantine: true`` check, ``quarantine_table`` (with the check's
    name and the reason in ``_check`` and ``_reason``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: Identifier
    mode: Literal["append", "replace"] = Field(
        "append", description="Add the audited rows, or make them the table's only rows"
    )
    location: str | None = None
    quarantine_table: Identifier | None = None
    quarantine_location: str | None = None


class CheckArgs(BaseModel):
    """``check``: the checks on ``table`` (compiled into one query), an optional ``where``
    (a filter, e.g. the partition just loaded), how many failing rows to sample (columns
    in ``mask_columns`` shown as ``***``) and, for write-audit-publish, ``publish``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: Identifier
    checks: list[Check] = Field(min_length=1, max_length=200)
    where: str | None = Field(None, description="SQL filter on the rows checked")
    sample_rows: int = Field(5, ge=0, le=100, description="Failing rows shown per check")
    mask_columns: list[Identifier] = Field(
        default_factory=list, description="Columns shown as *** in samples"
    )
    publish: PublishArgs | None = None

    @field_validator("where")
    @classmethod
    def _where(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = check_sql(value)
        if ";" in text:
            raise ValueError("where is one condition, without ';'")
        return text

    @model_validator(mode="after")
    def _names_and_publish(self) -> CheckArgs:
        seen: set[str] = set()
        for number, item in enumerate(self.checks):
            if item.label in seen:
                raise ValueError(
                    f"checks[{number}]: two checks are named {item.label!r}: give one a name"
                )
            seen.add(item.label)
        quarantining = [c for c in self.checks if getattr(c, "quarantine", False)]
        if quarantining and (self.publish is None or self.publish.quarantine_table is None):
            raise ValueError(
                f"check {quarantining[0].label!r} quarantines rows: give publish.quarantine_table"
            )
        if self.publish is not None and self.publish.table == self.table:
            raise ValueError("publish.table must differ from the audited table")
        return self

    @property
    def quarantining(self) -> list[Any]:
        """The checks whose failing rows are held back when publishing."""
        return [c for c in self.checks if getattr(c, "quarantine", False)]


class BranchCheckArgs(CheckArgs):
    """``iceberg_check``: the checks on an Iceberg table's ``branch`` (default ``main``),
    read as of its head; with ``fast_forward: true`` main is moved to the branch's head
    once no ``error`` check failed (write-audit-publish with the branch as the audit
    place). The branch publishes whole: no ``publish`` table, no quarantine."""

    branch: Identifier = Field("main", description="The branch audited (its head snapshot)")
    fast_forward: bool = Field(False, description="Publish: move main to the branch's head")

    @model_validator(mode="after")
    def _whole_branch(self) -> BranchCheckArgs:
        if self.publish is not None:
            raise ValueError("publish: an Iceberg branch is published by fast_forward")
        if self.fast_forward and self.branch == "main":
            raise ValueError("fast_forward publishes a branch other than main: give branch")
        return self

    @model_validator(mode="before")
    @classmethod
    def _no_quarantine(cls, data: Any) -> Any:
        for number, item in enumerate((data or {}).get("checks") or []):
            if isinstance(item, dict) and item.get("quarantine"):
                raise ValueError(
                    f"checks[{number}]: quarantine is not offered on an Iceberg branch (the "
                    "branch publishes whole); use the check task of a work table"
                )
        return data
