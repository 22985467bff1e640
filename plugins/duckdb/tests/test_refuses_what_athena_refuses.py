"""The local twin refuses what Athena refuses: one statement per query, only statement
types Athena runs, and a query that cannot close the ``COPY (...)`` writing ``output``."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

# Each of these Athena rejects (several statements, or a statement Athena does not have).
ATHENA_REJECTS = [
    "SELECT 1; CREATE TABLE pwned AS SELECT 1",
    "CREATE TABLE pwned AS SELECT 1; SELECT 1",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "DETACH other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA version",
    "SET threads = 1",
    "USE memory",
    "COPY (SELECT 1) TO '{tmp}/pwned.csv'",
    "EXPORT DATABASE '{tmp}/pwned_export'",
    "CALL pragma_version()",
    "BEGIN TRANSACTION",
    "CREATE MACRO pwned(a) AS a",
    "CREATE SECRET pwned (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "CREATE SEQUENCE pwned",
    "FROM range(3)",
    "SUMMARIZE SELECT 1",
    "VACUUM",
]


def query_routine(tmp: Path, sql: str, **args) -> Path:
    import json

    spec = {
        "routine_name": "twin_refuses",
        "executors": {
            "DuckDBExecutor": {
                "params": {"database": "db/lake.duckdb"},
                "tasks": [{"task": "run_query", "args": {"sql": sql, **args}}],
            }
        },
    }
    path = tmp / "routine.json"
    path.write_text(json.dumps(spec))
    return path


def objects(tmp: Path) -> list[tuple]:
    con = duckdb.connect(str(tmp / "db" / "lake.duckdb"), read_only=True)
    try:
        return con.execute(
            "SELECT table_name FROM information_schema.tables"
            " UNION ALL SELECT sequence_name FROM duckdb_sequences()"
            " UNION ALL SELECT function_name FROM duckdb_functions() WHERE NOT internal"
        ).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("sql", ATHENA_REJECTS)
def test_the_twin_rejects_what_athena_rejects(tmp_path: Path, run, sql: str) -> None:
    result = run(query_routine(tmp_path, sql.replace("{tmp}", str(tmp_path))))
    assert result.status == "failed"
    assert result.tasks[0].error.startswith(("refused: ", "DuckDB cannot parse")), result.tasks[0]
    assert objects(tmp_path) == []  # nothing created
    assert not (tmp_path / "pwned.csv").exists() and not (tmp_path / "pwned_export").exists()
    assert not (tmp_path / "other.duckdb").exists()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 AS a) TO '{tmp}/pwned.csv' (FORMAT csv); COPY (SELECT 2",
        "SELECT 1 AS a) TO '{tmp}/pwned.csv' (FORMAT csv) --",
        "CREATE TABLE pwned AS SELECT 1",
    ],
)
def test_a_query_cannot_escape_the_copy_that_writes_output(tmp_path: Path, run, sql: str) -> None:
    sql = sql.replace("{tmp}", str(tmp_path))
    result = run(query_routine(tmp_path, sql, output=str(tmp_path / "out.csv")))
    assert result.status == "failed"
    assert not (tmp_path / "pwned.csv").exists() and not (tmp_path / "out.csv").exists()
    assert objects(tmp_path) == []


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 AS a",
        "-- a comment\nWITH t AS (SELECT 1 AS a) SELECT a FROM t;",
        "(SELECT 1 AS a)",
        "SELECT ')' AS a",
    ],
)
def test_what_athena_accepts_still_runs(tmp_path: Path, run, sql: str) -> None:
    out = tmp_path / "out.csv"
    result = run(query_routine(tmp_path, sql, output=str(out)))
    assert result.status == "succeeded", result.tasks[0].error
    assert out.read_text().splitlines()[0] == "a"
