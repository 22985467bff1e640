"""The SQL of query tasks: inline or from a file with variables, never empty, and
parameters that have a SQL literal."""

from __future__ import annotations

import pytest
from lakeroutine.sql.query_text import QueryText
from pydantic import ValidationError


def test_query_text_inline_and_from_a_file(tmp_path) -> None:
    inline = QueryText.model_validate({"sql": " SELECT 1;; ", "parameters": ["it's", 2, None]})
    assert inline.query == "SELECT 1"
    assert inline.execution_parameters("trino") == ["'it''s'", "2", "NULL"]
    (tmp_path / "q.sql").write_text("SELECT * FROM ${table} WHERE d = '${run_date}' -- $${x}\n")
    context = {"base_dir": tmp_path, "variables": {"run_date": "2024-05-01", "table": "old"}}
    from_file = QueryText.model_validate(
        {"sql_file": "q.sql", "vars": {"table": "sales"}}, context=context
    )
    assert from_file.query == "SELECT * FROM sales WHERE d = '2024-05-01' -- ${x}"
    assert from_file.model_dump()["query"] == from_file.query  # part of the state scope


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"sql": "-- only a comment\n;"}, ("sql",), "SQL is empty"),
        ({"sql": "/* a */ ; "}, ("sql",), "SQL is empty"),
        ({}, (), "exactly one of 'sql' or 'sql_file'"),
        ({"sql": "SELECT 1", "sql_file": "q.sql"}, (), "exactly one"),
        ({"sql_file": "missing.sql"}, (), "does not exist"),
        ({"sql_file": "empty.sql"}, (), "holds no SQL"),
        ({"sql_file": "unknown.sql"}, (), "unknown variable ${nope}"),
        ({"sql": "SELECT 1", "query": "DROP TABLE x"}, (), "not 'query'"),
        ({"sql": "SELECT 1", "vars": {"x": 1}}, (), "'vars' apply to sql_file only"),
        ({"sql": "SELECT ?", "parameters": [[1]]}, ("parameters", 0), "valid"),
        ({"sql": "SELECT ?", "parameters": [1, float("nan")]}, ("parameters",), "parameter 1"),
        ({"sql": "SELECT ?", "parameters": [float("-inf")]}, ("parameters",), "no SQL literal"),
        ({"sql": "SELECT ?", "parameters": ["a\x00"]}, ("parameters",), "control character"),
    ],
)
def test_query_text_refuses_bad_input(tmp_path, data: dict, field: tuple, message: str) -> None:
    (tmp_path / "empty.sql").write_text("  -- nothing here\n")
    (tmp_path / "unknown.sql").write_text("SELECT ${nope}")
    with pytest.raises(ValidationError) as info:
        QueryText.model_validate(data, context={"base_dir": tmp_path})
    error = info.value.errors()[0]
    assert error["loc"][: len(field)] == field and message in error["msg"], error
