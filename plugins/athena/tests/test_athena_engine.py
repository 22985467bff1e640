"""Issue 21 point 6: ``engine_version`` runs the executor's queries on an Athena engine
such as DuckDB. botocore 1.44.13 (the lock) cannot name the engine per query, so the
workgroup must be a DuckDB workgroup (checked before anything runs); a botocore whose
StartQueryExecution takes EngineVersion sends it with every query instead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from lakeroutine.cli import main


def _record_engine(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The EngineVersion of each StartQueryExecution moto receives."""
    from moto.athena.responses import AthenaResponse

    seen: list[Any] = []
    original = AthenaResponse.start_query_execution

    def start_query_execution(self: AthenaResponse) -> Any:
        seen.append(self._get_param("EngineVersion"))
        return original(self)

    monkeypatch.setattr(AthenaResponse, "start_query_execution", start_query_execution)
    return seen


def _run(athena: Any, tmp_path: Path, **params: Any) -> int:
    query = {"task": "run_query", "args": {"sql": "SELECT 1"}}
    path = tmp_path / "routine.json"
    path.write_text(json.dumps(athena.routine(query, engine_version="DuckDB", **params)))
    return main(["run", str(path)])


def test_a_duckdb_workgroup_runs_the_queries(athena, tmp_path, monkeypatch) -> None:
    boto3.client("athena").create_work_group(
        Name="duck", Configuration={"EngineVersion": {"SelectedEngineVersion": "DuckDB"}}
    )
    seen = _record_engine(monkeypatch)
    assert _run(athena, tmp_path, workgroup="duck") == 0
    (execution,) = athena.executions
    assert execution.workgroup.name == "duck"
    assert len(seen) == 1


def test_another_workgroup_needs_a_per_query_engine(athena, tmp_path, monkeypatch, capsys) -> None:
    from lakeroutine_athena.waiting import per_query_engine

    seen = _record_engine(monkeypatch)
    code = _run(athena, tmp_path)  # the primary workgroup: engine AUTO
    if per_query_engine(boto3.client("athena")):
        assert code == 0 and seen == ["DuckDB"]
        return
    assert code == 2 and athena.executions == []
    err = capsys.readouterr().err
    assert "field 'params.engine_version'" in err and "'primary' runs on 'A" in err, err
    assert "cannot choose the engine per query" in err
