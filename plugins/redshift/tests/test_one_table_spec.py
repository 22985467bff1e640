"""One table description for every executor (issue 18, point 10): the columns that Athena
and DuckDB take as ``{"name": "type"}`` create the Redshift table too, and Redshift's list of
``{"name", "type"}`` objects describes a DuckDB table; both from `lakeroutine run`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lakeroutine.cli import main

COLUMNS = {"id": "bigint", "name": "varchar(64)"}


def _routine(tmp_path: Path, columns: Any) -> Path:
    duckdb = pytest.importorskip("duckdb")
    folder = tmp_path / "lake" / "people"
    folder.mkdir(parents=True)
    target = str(folder / "part-0.parquet").replace("'", "''")
    duckdb.connect().execute(
        f"COPY (SELECT 1::BIGINT AS id, 'ann' AS name) TO '{target}' (FORMAT parquet)"
    )
    path = tmp_path / "routine.json"
    table = {"name": "people", "columns": "${columns}"}
    path.write_text(
        json.dumps(
            {
                "routine_name": "one_table",
                "vars": {"columns": columns},
                "state_dir": str(tmp_path / "state"),
                "executors": {
                    "RedshiftExecutor": {
                        "params": {
                            "cluster_identifier": "lake",
                            "database": "dev",
                            "db_user": "loader",
                            "poll_interval_s": 0.01,
                            "max_wait_s": 30,
                        },
                        "tasks": [
                            {"task": "create_table", "args": {"table": {**table, "schema": "lake"}}}
                        ],
                    },
                    "DuckDBExecutor": {
                        "params": {"database": "db/lake.duckdb"},
                        "tasks": [
                            {
                                "task": "create_table",
                                "args": {"table": {**table, "location": "lake/people/"}},
                            }
                        ],
                    },
                },
            }
        )
    )
    return path


@pytest.mark.parametrize(
    "columns",
    [COLUMNS, [{"name": k, "type": v} for k, v in COLUMNS.items()]],
    ids=["mapping", "list"],
)
def test_one_columns_description_creates_the_table_on_redshift_and_duckdb(
    tmp_path: Path, data_api: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any, columns: Any
) -> None:
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "redshift,duckdb")
    path = _routine(tmp_path, columns)
    assert main(["run", str(path)]) == 0, capsys.readouterr().err
    (sql,) = data_api.sql
    assert sql.startswith('CREATE TABLE IF NOT EXISTS "lake"."people" (')
    assert '"id" BIGINT' in sql and '"name" VARCHAR(64)' in sql
    import duckdb

    con = duckdb.connect(str(tmp_path / "db" / "lake.duckdb"), read_only=True)
    try:
        found = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'people'"
        ).fetchall()
    finally:
        con.close()
    assert found == [("id", "BIGINT"), ("name", "VARCHAR")]


def test_a_column_object_missing_its_type_is_one_clear_error(
    tmp_path: Path, data_api: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "redshift,duckdb")
    path = _routine(tmp_path, [{"name": "id"}])
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "DuckDBExecutor" in err and "column 0: give {'name': ..., 'type': ...}" in err
    assert data_api.sql == []
