"""The SQL of a query task: inline or from a file, with ``${vars}``, never empty.

``sql`` or ``sql_file`` (``${name}`` takes the routine's variables and the task's own
``vars``) and ``parameters`` for ``?`` placeholders, which the engine binds or which are sent
as quoted literals (never pasted into the text).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from lakeroutine.sql.tables import Dialect, sql_value

_SQL_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)

ParameterValue = str | int | float | bool | None
"""A value for a ``?`` placeholder: bound by the engine or sent as a quoted literal."""


def check_sql(text: str) -> str:
    """``text`` without surrounding blanks and trailing semicolons; ValueError if nothing
    but blanks, comments and semicolons is left (an empty query is never sent)."""
    if not isinstance(text, str) or not _SQL_COMMENTS.sub("", text).strip(" \t\r\n;"):
        raise ValueError("SQL is empty")
    return text.strip().rstrip(";").rstrip()


class QueryText(BaseModel):
    """The SQL of a query task: ``sql`` inline or a ``sql_file``; ``${name}`` in either takes
    the routine's variables (built-ins, ``vars``, ``--var``) and, in a file, the task's own
    ``vars`` too. Values for ``?`` placeholders go in ``parameters`` (quoted by the engine,
    never pasted into the text).

    The SQL itself is part of the model's dump, so editing the file changes the task's
    state scope (a rerun never re-attaches to the query of an older text).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built when used

    sql: str | None = Field(None, description="The query")
    sql_file: str | None = Field(None, description="A .sql file, relative to the routine file")
    vars: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Values for ${name} in sql_file"
    )
    parameters: list[ParameterValue] = Field(
        default_factory=list, description="Values for the ? placeholders, in order"
    )
    query: SkipJsonSchema[str] = Field("", description="The SQL, filled in from sql or sql_file")

    @model_validator(mode="before")
    @classmethod
    def _load(cls, data: Any, info: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "query" in data:
            raise ValueError("give 'sql' or 'sql_file', not 'query'")
        if set(data) - set(cls.model_fields):
            return data  # a misspelt field ('sqll') is reported as unknown, nothing else
        if (data.get("sql") is None) == (data.get("sql_file") is None):
            raise ValueError("give exactly one of 'sql' or 'sql_file'")
        if data.get("sql") is not None:
            if data.get("vars"):
                raise ValueError(
                    "'vars' apply to sql_file only: in 'sql', ${name} takes the routine's vars"
                )
            try:
                return {**data, "query": check_sql(data["sql"])}
            except ValueError:
                return {**data, "query": ""}  # the 'sql' field reports it
        text = _read_sql_file(data["sql_file"], data.get("vars") or {}, info)
        try:
            return {**data, "query": check_sql(text)}
        except ValueError:
            raise ValueError(f"sql_file {data['sql_file']} holds no SQL") from None

    @field_validator("sql")
    @classmethod
    def _not_empty(cls, value: str | None) -> str | None:
        return None if value is None else check_sql(value)

    @field_validator("parameters")
    @classmethod
    def _literals(cls, value: list[ParameterValue]) -> list[ParameterValue]:
        for number, item in enumerate(value):
            try:
                sql_value(item, "trino")
            except ValueError as exc:
                raise ValueError(f"parameter {number}: {exc}") from None
        return value

    def execution_parameters(self, dialect: Dialect) -> list[str]:
        """``parameters`` as SQL literals of ``dialect`` (for Athena's ExecutionParameters)."""
        return [sql_value(value, dialect) for value in self.parameters]


def _read_sql_file(name: Any, variables: dict[str, Any], info: Any) -> str:
    """The file's text with ``${name}`` resolved against the routine's variables (from the
    validation context) and then the task's ``vars``."""
    from pathlib import Path

    from lakeroutine.types import existing_file
    from lakeroutine.variables import Substituter, VariableError

    path = existing_file(Path(str(name)), info)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read sql_file {path}: {exc}") from None
    context = info.context or {}
    known = {**(context.get("variables") or {}), **variables}
    try:
        return str(Substituter(known, env=context.get("env") or {}).substitute(text))
    except VariableError as exc:
        raise ValueError(f"sql_file {path}: {exc}") from None
