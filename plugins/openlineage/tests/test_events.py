"""Events per task, end to end through the installed plugin and the client's file transport:
START then COMPLETE, FAIL (masked error) or ABORT, one run per routine task under the
routine's run, datasets named by the naming spec, and every event valid by the schemas."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lakeroutine import run_routine
from lakeroutine.cli import main
from lr_lineage_probe import probe_routine, registry
from lr_openlineage_helpers import read_events, validate_event

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def quickstart(tmp_path: Path) -> Path:
    folder = tmp_path / "quickstart"
    shutil.copytree(EXAMPLES / "quickstart", folder, ignore=shutil.ignore_patterns("lake"))
    subprocess.run([sys.executable, str(folder / "land_files.py")], check=True, cwd=folder)
    return folder


def by_job(events: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for event in events:
        found.setdefault(event["job"]["name"], []).append(event)
    return found


def only(datasets: list[dict]) -> dict:
    assert len(datasets) == 1, datasets
    return datasets[0]


def test_the_quickstart_tells_its_lineage_task_by_task(tmp_path, lineage_file):
    folder = quickstart(tmp_path)
    assert main(["run", str(folder / "routine.json"), "--report", str(tmp_path / "r.json")]) == 0
    events = read_events(lineage_file)
    for event in events:
        validate_event(event)
    jobs = by_job(events)
    steps = [
        "StagingExecutor.transfer",
        "StagingExecutor.post_staging",
        "sales_tables.create_table",
        "sales_tables.run_query",
    ]
    assert list(jobs) == [f"quickstart_sales.{step}" for step in steps]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"] * 4
    assert {e["job"]["namespace"] for e in events} == {"lakeroutine"}
    # one run per task (START and COMPLETE share it), all under the routine's run
    run_ids = [{e["run"]["runId"] for e in jobs[f"quickstart_sales.{s}"]} for s in steps]
    assert all(len(ids) == 1 for ids in run_ids) and len(set.union(*run_ids)) == 4
    parents = {
        (p["job"]["namespace"], p["job"]["name"], p["run"]["runId"])
        for p in (e["run"]["facets"]["parent"] for e in events)
    }
    assert len(parents) == 1 and next(iter(parents))[:2] == ("lakeroutine", "quickstart_sales")
    assert next(iter(parents))[2] not in set.union(*run_ids)

    lake = (folder / "lake").resolve()
    transfer = jobs["quickstart_sales.StagingExecutor.transfer"][1]
    landing = only(transfer["inputs"])
    assert (landing["namespace"], landing["name"]) == ("file", f"{lake}/landing/sales")
    assert landing["inputFacets"]["inputStatistics"]["fileCount"] == 3
    staged = only(transfer["outputs"])
    assert (staged["namespace"], staged["name"]) == ("file", f"{lake}/staging/sales")
    stats = staged["outputFacets"]["outputStatistics"]
    parquet = list((lake / "staging" / "sales").rglob("*.parquet"))
    assert stats["fileCount"] == len(parquet) == 3
    assert stats["size"] == sum(p.stat().st_size for p in parquet)

    archived = only(jobs["quickstart_sales.StagingExecutor.post_staging"][1]["outputs"])
    assert archived["name"].startswith(f"{lake}/") and "archive" in archived["name"]

    # the staging output is the same dataset, under the same name, when DuckDB reads it
    create = jobs["quickstart_sales.sales_tables.create_table"][1]
    assert only(create["inputs"])["name"] == staged["name"]
    table = only(create["outputs"])
    database = (lake / "quickstart.duckdb").resolve()
    assert (table["namespace"], table["name"]) == (f"duckdb://{database}", "main.sales")
    assert [f["name"] for f in table["facets"]["schema"]["fields"]] == [
        "name",
        "age",
        "job",
        "amount",
    ]
    [link] = table["facets"]["symlinks"]["identifiers"]
    assert (link["namespace"], link["name"]) == ("file", staged["name"])

    query = jobs["quickstart_sales.sales_tables.run_query"][1]
    assert query["job"]["facets"]["sql"]["query"].startswith("SELECT job, count(*)")
    assert query["job"]["facets"]["sql"]["dialect"] == "duckdb"
    assert (only(query["inputs"])["namespace"], only(query["inputs"])["name"]) == (
        table["namespace"],
        table["name"],
    )
    report = only(query["outputs"])
    assert report["name"] == f"{lake}/reports/revenue_by_job.csv"
    assert report["outputFacets"]["outputStatistics"]["rowCount"] == 4


def test_a_failed_task_sends_fail_with_its_error_masked(tmp_path, lineage_file, monkeypatch):
    monkeypatch.setenv("PROBE_PASSWORD", "hunter2-lineage-secret")
    spec = probe_routine(tmp_path, "fail", password="${env:PROBE_PASSWORD}")
    result = run_routine(spec, registry=registry())
    assert result.status == "failed"
    events = read_events(lineage_file)
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    for event in events:
        validate_event(event)
    error = events[1]["run"]["facets"]["errorMessage"]
    assert error["message"] == "failed on purpose (password was ***)"
    assert error["programmingLanguage"] == "python"
    assert "hunter2" not in lineage_file.read_text()


def test_retries_stay_one_run_and_only_the_last_attempt_ends_it(tmp_path, lineage_file):
    spec = probe_routine(tmp_path, {"task": "fail", "retries": 2}, fail_times=1)
    assert run_routine(spec, registry=registry()).status == "succeeded"
    events = read_events(lineage_file)
    assert [e["eventType"] for e in events] == ["START", "RUNNING", "COMPLETE"]
    assert len({e["run"]["runId"] for e in events}) == 1


def test_an_interrupted_task_sends_abort_and_later_tasks_send_nothing(tmp_path, lineage_file):
    spec = probe_routine(tmp_path, "interrupted", "declare")
    assert run_routine(spec, registry=registry()).status == "cancelled"
    events = read_events(lineage_file)
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        ("probe.lake.interrupted", "START"),
        ("probe.lake.interrupted", "ABORT"),
    ]
    for event in events:
        validate_event(event)


def test_repeated_tasks_get_their_step_ids_as_job_names(tmp_path, lineage_file):
    run_routine(probe_routine(tmp_path, "declare", "declare"), registry=registry())
    names = [e["job"]["name"] for e in read_events(lineage_file)]
    assert names == ["probe.lake.declare"] * 2 + ["probe.lake.declare#2"] * 2


def test_the_same_run_id_gives_the_same_openlineage_ids_in_another_process(tmp_path, lineage_file):
    for _ in range(2):
        spec = probe_routine(tmp_path, "declare")
        run_routine(spec, registry=registry(), run_id="nightly-1")
    first, _, second, _ = read_events(lineage_file)
    assert first["run"]["runId"] == second["run"]["runId"]
    assert first["run"]["facets"]["parent"] == second["run"]["facets"]["parent"]


def test_a_task_declaring_something_else_than_a_dataset_fails_clearly(tmp_path, lineage_file):
    from lakeroutine.context import TaskContext
    from lakeroutine.lineage import TaskLineage

    with pytest.raises(TypeError, match="Location or Table"):
        TaskLineage().read("s3://bucket/prefix/")  # type: ignore[arg-type]
    assert TaskContext.__dataclass_fields__["lineage"].default_factory is TaskLineage


def test_secrets_stay_out_of_the_sql_facet_and_the_clients_debug_log(
    tmp_path, lineage_file, monkeypatch, caplog
):
    import logging

    monkeypatch.setenv("DB_PASSWORD", "s3cret-in-sql-9")
    sql = "ALTER USER etl PASSWORD '${env:DB_PASSWORD}'"
    spec = probe_routine(tmp_path, {"task": "declare", "args": {"sql": sql}})
    with caplog.at_level(logging.DEBUG):
        assert run_routine(spec, registry=registry()).ok
    complete = read_events(lineage_file)[1]
    assert complete["job"]["facets"]["sql"]["query"] == "ALTER USER etl PASSWORD '***'"
    assert "s3cret-in-sql-9" not in lineage_file.read_text()
    assert "OpenLineageClient will *try* to emit event" in caplog.text  # the client logged it
    assert "s3cret-in-sql-9" not in caplog.text
