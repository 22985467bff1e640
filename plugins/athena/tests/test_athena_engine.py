"""Issue 21 point 6: ``engine_version`` runs the executor's queries on an Athena engine such
as DuckDB. botocore 1.44.18 (the lock) names the engine per query: every StartQueryExecution
carries ``EngineVersion``, over rest-json, and any workgroup will do. A botocore without that
field (before 1.44.18, still allowed to users) needs a DuckDB workgroup, checked before
anything runs: tested with the lock's own Athena model, less that one field, given to botocore
the way botocore takes a custom model (``AWS_DATA_PATH``)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from lakeroutine.cli import main


def _record_engine(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """The request path and EngineVersion of each StartQueryExecution moto receives."""
    from moto.athena.responses import AthenaResponse

    seen: list[tuple[str, Any]] = []
    original = AthenaResponse.start_query_execution

    def start_query_execution(self: AthenaResponse) -> Any:
        seen.append((f"{self.method} {self.path}", self._get_param("EngineVersion")))
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
    assert seen == [("POST /query-executions", "DuckDB")]


def test_any_workgroup_runs_duckdb_queries_per_query(athena, tmp_path, monkeypatch) -> None:
    seen = _record_engine(monkeypatch)
    assert _run(athena, tmp_path) == 0  # the primary workgroup: engine AUTO
    (execution,) = athena.executions
    assert execution.workgroup.name == "primary" and execution.query == "SELECT 1"
    assert seen == [("POST /query-executions", "DuckDB")]  # botocore's rest-json call


def test_without_engine_version_no_engine_is_sent(athena, tmp_path, monkeypatch) -> None:
    seen = _record_engine(monkeypatch)
    routine = athena.routine({"task": "run_query", "args": {"sql": "SELECT 1"}})
    path = tmp_path / "routine.json"
    path.write_text(json.dumps(routine))
    assert main(["run", str(path)]) == 0
    assert seen == [("POST /query-executions", None)]


@pytest.fixture
def botocore_without_per_query_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The installed Athena model less StartQueryExecution's EngineVersion (as before botocore
    1.44.18), in a data path botocore reads before its own; sessions made afresh."""
    import botocore
    from lakeroutine.aws import session_for

    models = Path(botocore.__file__).parent / "data" / "athena"
    (version,) = [p.name for p in models.iterdir()]
    model = json.loads(gzip.decompress((models / version / "service-2.json.gz").read_bytes()))
    input_shape = model["operations"]["StartQueryExecution"]["input"]["shape"]
    del model["shapes"][input_shape]["members"]["EngineVersion"]
    target = tmp_path / "models" / "athena" / version
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(model))
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "models"))
    session_for.cache_clear()
    yield
    session_for.cache_clear()


def test_without_per_query_engine_another_workgroup_is_refused(
    athena, tmp_path, monkeypatch, capsys, botocore_without_per_query_engine
) -> None:
    seen = _record_engine(monkeypatch)
    assert _run(athena, tmp_path) == 2  # the primary workgroup runs on AUTO
    assert athena.executions == [] and seen == []
    err = capsys.readouterr().err
    assert "field 'params.engine_version'" in err and "'primary' runs on 'A" in err, err
    assert "cannot choose the engine per query" in err


def test_without_per_query_engine_a_duckdb_workgroup_still_runs(
    athena, tmp_path, monkeypatch, botocore_without_per_query_engine
) -> None:
    boto3.client("athena").create_work_group(
        Name="duck", Configuration={"EngineVersion": {"SelectedEngineVersion": "DuckDB"}}
    )
    seen = _record_engine(monkeypatch)
    assert _run(athena, tmp_path, workgroup="duck") == 0
    assert seen == [("POST /query-executions", None)]  # the workgroup's engine, not named
