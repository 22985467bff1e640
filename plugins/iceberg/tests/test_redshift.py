"""Point 1, "Redshift where it applies": Redshift reads Iceberg tables of the Glue Data
Catalog through an external schema. ``iceberg_external_schema`` and ``iceberg_query`` on the
RedshiftExecutor, over moto's Data API driven by the Redshift plugin's emulator; the SQL
sent parses in sqlglot's Redshift dialect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from lakeroutine.cli import main
from sqlglot import exp

ROLE = "arn:aws:iam::123456789012:role/lake-reader"


@pytest.fixture
def data_api(moto_endpoint: str) -> Any:
    from lakeroutine_redshift.emulator import DataApiEmulator

    with DataApiEmulator(rule=lambda statement: ("FINISHED", 3)) as emulator:
        yield emulator


def routine(tmp_path: Path, tasks: list[Any]) -> Path:
    block = {
        "executor": "RedshiftExecutor",
        "params": {
            "cluster_identifier": "lake",
            "database": "dev",
            "db_user": "loader",
            "poll_interval_s": 0.01,
            "max_wait_s": 30,
        },
        "tasks": tasks,
    }
    path = tmp_path / "routine.json"
    path.write_text(
        json.dumps({"routine_name": "rs", "state_dir": str(tmp_path), "executors": {"wh": block}})
    )
    return path


def test_external_schema_then_a_query_reading_iceberg(tmp_path, data_api, run) -> None:
    tasks = [
        {
            "task": "iceberg_external_schema",
            "args": {"schema": "lake_ice", "glue_database": "sales", "iam_role": ROLE},
        },
        {"task": "iceberg_query", "args": {"sql": "SELECT kind, count(*) FROM lake_ice.events"}},
    ]
    result = run(routine(tmp_path, tasks))
    assert result.ok, [t.error for t in result.tasks]
    create, select = data_api.sql
    assert create == (
        "CREATE EXTERNAL SCHEMA IF NOT EXISTS \"lake_ice\" FROM DATA CATALOG DATABASE 'sales' "
        f"IAM_ROLE '{ROLE}'"
    )
    assert select == "SELECT kind, count(*) FROM lake_ice.events"
    for text in (create, select):
        tree = sqlglot.parse_one(text, read="redshift")
        assert tree is not None
    table = sqlglot.parse_one(select, read="redshift").find(exp.Table)
    assert (table.db, table.name) == ("lake_ice", "events")
    assert result.tasks[0].output["schema"] == "lake_ice"
    assert result.tasks[1].output["statement"]["id"]


def test_bad_role_and_time_travel_are_refused(tmp_path, data_api, capsys) -> None:
    bad = {
        "task": "iceberg_external_schema",
        "args": {"schema": "x", "glue_database": "sales", "iam_role": "admin"},
    }
    assert main(["validate", "--offline", str(routine(tmp_path, [bad]))]) == 2
    assert "field 'args.iam_role'" in capsys.readouterr().err
    travel = {
        "task": "iceberg_query",
        "args": {"sql": "SELECT * FROM lake_ice.events FOR VERSION AS OF 1234"},
    }
    assert main(["run", str(routine(tmp_path, [travel]))]) == 2
    err = capsys.readouterr().err
    assert "field 'args.sql'" in err and "no time travel" in err
    assert data_api.sql == []
