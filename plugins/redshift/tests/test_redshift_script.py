"""Splitting SQL scripts into statements: quotes, comments, $$ bodies and casts do not
split statements or count as :parameters."""

from __future__ import annotations

import pytest
from lakeroutine_redshift.script import split_sql


@pytest.mark.parametrize(
    ("script", "texts", "parameters"),
    [
        ("select 1", ["select 1"], [[]]),
        ("select 1;; ;\n select 2;", ["select 1", "select 2"], [[], []]),
        ("select ';' as a, 'it''s;' as b", ["select ';' as a, 'it''s;' as b"], [[]]),
        ("select 'a\\';b' ; select 2", ["select 'a\\';b'", "select 2"], [[], []]),
        ('select "we;ird" from t', ['select "we;ird" from t'], [[]]),
        ("-- only a comment; really\n", [], []),
        ("/* a; b */ select :x /* :y */", ["/* a; b */ select :x /* :y */"], [["x"]]),
        ("select x::int, :y::date, ':z'", ["select x::int, :y::date, ':z'"], [["y"]]),
        (
            "create function f() returns int as $$ select 1; $$ language sql; select :a, :a",
            ["create function f() returns int as $$ select 1; $$ language sql", "select :a, :a"],
            [[], ["a"]],
        ),
        ("select $tag$ ; :p $tag$", ["select $tag$ ; :p $tag$"], [[]]),
    ],
)
def test_split_sql(script: str, texts: list[str], parameters: list[list[str]]) -> None:
    statements = split_sql(script)
    assert [s.text for s in statements] == texts
    assert [s.parameters for s in statements] == parameters
