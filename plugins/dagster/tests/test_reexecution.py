"""Re-execute from failure with real Dagster: the succeeded steps are skipped, the rest
resume the same lakeroutine run, and a step killed while Athena ran its query re-attaches
to that query (moto's server over real HTTP) instead of starting another; an interrupted
step cancels its query."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from core_probe import ProbeExecutor
from dagster._core.definitions.reconstruct import ReconstructableJob

IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def defs_file(folder: Path, routine: Path, job: str, registry: str = "None") -> Path:
    """A Dagster definitions file over ``routine``, as a user writes it; ``job`` is the
    module attribute the tests reconstruct the job from."""
    path = folder / "definitions.py"
    path.write_text(
        ("from core_probe import probe_registry\n" if registry != "None" else "")
        + "from lakeroutine_dagster import routine_definitions\n\n"
        f"defs = routine_definitions({str(routine)!r}, registry={registry})\n"
        f"job = defs.get_job_def({job!r})\n"
    )
    return path


def execute(definitions: Path, instance: dg.DagsterInstance, **kw: Any) -> Any:
    job = ReconstructableJob.for_file(str(definitions), "job")
    return dg.execute_job(job, instance, run_config=IN_PROCESS, raise_on_error=False, **kw)


def started_steps(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [
        e.step_key
        for e in instance.all_logs(run_id)
        if e.is_dagster_event and e.dagster_event.event_type_value == "STEP_START"
    ]


def output_metadata(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict[str, Any]]:
    found = {}
    for entry in instance.all_logs(run_id):
        if entry.is_dagster_event and entry.dagster_event.event_type_value == "STEP_OUTPUT":
            metadata = entry.dagster_event.event_specific_data.metadata
            found[entry.step_key] = {k: v.value for k, v in metadata.items()}
    return found


@pytest.fixture
def persistent_instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance


def test_reexecution_from_failure_skips_succeeded_steps_and_resumes_the_run(
    tmp_path, probe_routine, persistent_instance
):
    """``flaky`` fails its first attempt of a run (counted per lakeroutine run id): it
    succeeds on re-execution only because the re-execution is the same lakeroutine run."""
    routine = probe_routine(("a", ["ok", "flaky", "ok"]), ("b", ["ok"]), fail_times=1)
    definitions = defs_file(tmp_path, routine, "probe", registry="probe_registry()")
    first = execute(definitions, persistent_instance)
    assert not first.success
    assert ProbeExecutor.calls == ["a.ok", "a.flaky"]
    assert started_steps(persistent_instance, first.run_id) == ["a__ok", "a__flaky"]

    options = dg.ReexecutionOptions.from_failure(first.run_id, persistent_instance)
    ProbeExecutor.calls.clear()
    second = execute(definitions, persistent_instance, reexecution_options=options)
    assert second.success
    assert ProbeExecutor.calls == ["a.flaky", "a.ok", "b.ok"]  # a.ok (first) not again
    assert started_steps(persistent_instance, second.run_id) == ["a__flaky", "a__ok__2", "b__ok"]
    reported = output_metadata(persistent_instance, second.run_id)
    assert reported["a__flaky"]["output"] == {"attempts": 2}
    assert {entry["run_id"] for entry in reported.values()} == {first.run_id}


@pytest.fixture
def athena_queries(moto_endpoint: str) -> Iterator[Any]:
    """moto's Athena (queries stay QUEUED until told otherwise) and a results bucket."""
    import boto3
    from moto.athena.models import athena_backends
    from moto.moto_api import state_manager

    boto3.client("s3").create_bucket(Bucket="results")
    state_manager.set_transition("athena::execution", {"progression": "manual", "times": 10**6})
    try:
        yield athena_backends["123456789012"]["us-east-1"]
    finally:
        state_manager.unset_transition("athena::execution")


def saved_query_id(state_dir: Path) -> str | None:
    """The query id the Athena task saved in the routine's run state, if any yet."""
    database = state_dir / "athena_dagster.sqlite"
    if not database.exists():
        return None
    try:
        with sqlite3.connect(database) as conn:
            rows = conn.execute(
                "SELECT value FROM task_state WHERE name LIKE '%query_id'"
            ).fetchall()
    except sqlite3.OperationalError:  # the run has not created its table yet
        return None
    return json.loads(rows[0][0]) if rows else None


def athena_job(tmp_path: Path, lake: Any, state_dir: Path) -> tuple[Path, Path]:
    """A definitions file over a routine that stages a file, then runs an Athena query;
    and a Dagster home for the runs."""
    lake.write("a.csv", "x\n1\n")
    routine = tmp_path / "routine.json"
    routine.write_text(
        json.dumps(
            {
                "routine_name": "athena_dagster",
                "state_dir": str(state_dir),
                "executors": {
                    "StagingExecutor": {
                        "params": {
                            "parent_directory": str(lake.landing),
                            "dump_directory": str(lake.staging),
                            "archive_or_delete": "delete",
                        },
                        "tasks": ["transfer"],
                    },
                    "AthenaExecutor": {
                        "params": {
                            "database": "lake",
                            "output_location": "s3://results/athena/",
                            "poll_interval_s": 0.05,
                            "max_wait_s": 120,
                        },
                        "tasks": [{"task": "run_query", "args": {"sql": "SELECT 1"}}],
                    },
                },
            }
        )
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    return defs_file(tmp_path, routine, "athena_dagster"), home


def run_in_subprocess(definitions: Path, home: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    """The job executed (in process) by another Python process, as a run worker does."""
    from lakeroutine.testing import default_sigint

    script = (
        "import dagster as dg\n"
        "from dagster._core.definitions.reconstruct import ReconstructableJob\n"
        f"job = ReconstructableJob.for_file({str(definitions)!r}, 'job')\n"
        "dg.execute_job(job, dg.DagsterInstance.get(), "
        f"run_config={IN_PROCESS!r}, raise_on_error=False)\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "stderr.txt").open("wb"),
        preexec_fn=default_sigint,
    )


def wait_for_saved_query(process: subprocess.Popen[bytes], state_dir: Path, tmp_path: Path) -> None:
    deadline = time.monotonic() + 120
    while saved_query_id(state_dir) is None:
        assert process.poll() is None, (tmp_path / "stderr.txt").read_text()
        assert time.monotonic() < deadline, "the step never saved its query id"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_step_killed_mid_query_is_reexecuted_and_reattaches_to_its_query(
    tmp_path, athena_queries, lake
):
    """The Dagster run's process is SIGKILLed while the Athena step waits on its query; the
    run is marked failed (what Dagster's run monitoring does for a dead worker) and
    re-executed from failure: staging is not run again and the query is not started again."""
    from moto.moto_api import state_manager

    state_dir = tmp_path / "state"
    definitions, home = athena_job(tmp_path, lake, state_dir)
    process = run_in_subprocess(definitions, home, tmp_path)
    try:
        wait_for_saved_query(process, state_dir, tmp_path)
    finally:
        process.kill()
        process.wait(timeout=30)
    (execution,) = athena_queries.executions.values()
    assert execution.status == "QUEUED" and saved_query_id(state_dir) == execution.id

    with dg.instance_for_test(temp_dir=str(home)) as instance:
        (killed,) = instance.get_runs()
        assert killed.status == dg.DagsterRunStatus.STARTED
        instance.report_run_failed(killed)
        state_manager.set_transition("athena::execution", {"progression": "manual", "times": 1})
        options = dg.ReexecutionOptions.from_failure(killed.run_id, instance)
        resumed = execute(definitions, instance, reexecution_options=options)
        assert resumed.success
        assert started_steps(instance, resumed.run_id) == ["AthenaExecutor__run_query"]
        output = output_metadata(instance, resumed.run_id)["AthenaExecutor__run_query"]
    assert output["run_id"] == killed.run_id
    assert output["output"]["query_execution_id"] == execution.id
    assert output["output"]["reattached"] is True
    assert len(athena_queries.executions) == 1  # nothing started twice


@pytest.mark.slow
def test_an_interrupted_step_cancels_its_athena_query(tmp_path, athena_queries, lake):
    """SIGINT to the run worker (what terminating a run or Ctrl-C sends): the step ends
    interrupted and lakeroutine stops the query it started."""
    state_dir = tmp_path / "state"
    definitions, home = athena_job(tmp_path, lake, state_dir)
    process = run_in_subprocess(definitions, home, tmp_path)
    try:
        wait_for_saved_query(process, state_dir, tmp_path)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        process.kill()
    (execution,) = athena_queries.executions.values()
    assert execution.status == "CANCELLED", (tmp_path / "stderr.txt").read_text()[-3000:]
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        (run,) = instance.get_runs()
        assert run.status in (dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.FAILURE)
        failures = [
            e.step_key
            for e in instance.all_logs(run.run_id)
            if e.is_dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE"
        ]
    assert failures == ["AthenaExecutor__run_query"]
