"""Executing a routine's job in process with real Dagster: each task once, one lakeroutine
run, report entries as metadata, logs in the event log, failures and retries in one layer."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
from pathlib import Path
from typing import Any

import dagster as dg
from core_probe import ProbeExecutor
from lakeroutine_dagster import routine_definitions

EXAMPLES = Path(__file__).parents[3] / "examples"


def execute(defs: dg.Definitions, instance: dg.DagsterInstance, name: str = "probe", **kw: Any):
    return defs.get_job_def(name).execute_in_process(instance=instance, raise_on_error=False, **kw)


def outputs(result: Any) -> dict[str, dict[str, Any]]:
    """Each step's output metadata, as plain values."""
    found = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_OUTPUT":
            metadata = event.event_specific_data.metadata
            found[event.step_key] = {key: value.value for key, value in metadata.items()}
    return found


def events_of(result: Any, event_type: str) -> list[Any]:
    return [e for e in result.all_events if e.event_type_value == event_type]


def messages(error: Any) -> str:
    """The messages of a Dagster error and of the errors that caused it."""
    found = []
    while error is not None:
        found.append(f"{error.cls_name}: {error.message}")
        error = error.cause or error.context
    return "\n".join(found)


def log_lines(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str | None, int, str]]:
    """The event log's user log lines: (step, level, message)."""
    return [
        (entry.step_key, entry.level, entry.user_message)
        for entry in instance.all_logs(run_id)
        if not entry.is_dagster_event
    ]


def test_each_task_runs_once_in_order_and_reports_as_output_metadata(
    probe_routine, registry, instance
):
    echo = {"task": "echo", "args": {"message": "hi", "count": 2}}
    path = probe_routine(("a", ["ok", echo, echo]), ("b", ["ok"]))
    result = execute(routine_definitions(path, registry=registry), instance)
    assert result.success
    assert ProbeExecutor.calls == ["a.ok", "a.echo", "a.echo", "b.ok"]
    reported = outputs(result)
    assert list(reported) == ["a__ok", "a__echo", "a__echo__2", "b__ok"]
    entry = reported["a__echo__2"]
    assert {k: entry[k] for k in ("step", "executor", "task", "status", "attempts")} == {
        "step": "a.echo#2",
        "executor": "a",
        "task": "echo",
        "status": "succeeded",
        "attempts": 1,
    }
    assert entry["output"] == {"message": "hihi"} and entry["duration_s"] >= 0
    assert "error" not in entry
    assert {e["run_id"] for e in reported.values()} == {result.run_id}
    assert result.dagster_run.tags["lakeroutine/routine"] == "probe"


def test_all_steps_share_one_lakeroutine_run_id_and_run_date(
    tmp_path, probe_routine, registry, instance
):
    said = {"task": "echo", "args": {"message": "${run_id} ${run_date}"}}
    path = probe_routine(("a", [said]), ("b", [said]))
    result = execute(routine_definitions(path, registry=registry), instance)
    messages = {step: entry["output"]["message"] for step, entry in outputs(result).items()}
    created = instance.get_run_record_by_id(result.run_id).create_timestamp
    expected = f"{result.run_id} {created.astimezone(dt.timezone.utc):%Y-%m-%d}"
    assert messages == {"a__echo": expected, "b__echo": expected}


def test_a_daily_partition_is_the_runs_run_date(probe_routine, registry, instance):
    path = probe_routine(("a", [{"task": "echo", "args": {"message": "${run_date}"}}]))
    daily = dg.DailyPartitionsDefinition(start_date="2026-01-01")
    defs = routine_definitions(path, registry=registry, partitions_def=daily)
    result = execute(defs, instance, partition_key="2026-11-01")
    assert outputs(result)["a__echo"]["output"] == {"message": "2026-11-01"}


def test_a_scheduled_runs_tick_is_its_run_date_and_run_ts(probe_routine, registry, instance):
    path = probe_routine(("a", [{"task": "echo", "args": {"message": "${run_date} ${run_ts}"}}]))
    defs = routine_definitions(path, registry=registry)
    tick = {"dagster/scheduled_execution_time": "2026-11-02T06:00:00+00:00"}
    result = execute(defs, instance, tags=tick)
    message = outputs(result)["a__echo"]["output"]["message"]
    assert message == "2026-11-02 2026-11-02T06:00:00Z"


def test_vars_reach_the_routine(probe_routine, registry, instance):
    path = probe_routine(("a", [{"task": "echo", "args": {"message": "${who}"}}]))
    defs = routine_definitions(path, registry=registry, vars={"who": "dagster"})
    assert outputs(execute(defs, instance))["a__echo"]["output"] == {"message": "dagster"}


def test_a_runs_config_adds_vars_and_a_bad_one_fails_without_retry(
    probe_routine, registry, instance
):
    echo = {"task": "echo", "args": {"message": "${who}", "count": "${times}"}, "retries": 2}
    path = probe_routine(("a", [echo]))
    defs = routine_definitions(path, registry=registry, vars={"who": "dagster", "times": 1})
    config = {"resources": {"lakeroutine": {"config": {"vars": {"who": "launchpad"}}}}}
    result = execute(defs, instance, run_config=config)
    assert outputs(result)["a__echo"]["output"] == {"message": "launchpad"}

    config = {"resources": {"lakeroutine": {"config": {"vars": {"times": "many"}}}}}
    result = execute(defs, instance, run_config=config)
    assert not result.success and events_of(result, "STEP_UP_FOR_RETRY") == []
    (failure,) = events_of(result, "STEP_FAILURE")
    description = failure.event_specific_data.user_failure_data.description
    assert description.startswith(f"{path}, executor 'a', task 'echo', field 'args.count': ")


def test_lakeroutine_log_lines_reach_dagsters_event_log(probe_routine, registry, instance):
    path = probe_routine(("a", ["ok"]), ("b", ["ok"]))
    result = execute(routine_definitions(path, registry=registry), instance)
    lines = log_lines(instance, result.run_id)
    assert ("a__ok", 20, "task a.ok started") in lines
    assert ("b__ok", 20, "task b.ok started") in lines
    assert any(s == "b__ok" and m.startswith("task b.ok succeeded in ") for s, _, m in lines)


def test_a_failing_task_fails_its_step_with_the_tasks_error_and_stops_the_job(
    probe_routine, registry, instance
):
    path = probe_routine(("a", ["ok", "fail", "ok"]), ("b", ["ok"]), password="hunter2-secret")
    result = execute(routine_definitions(path, registry=registry), instance)
    assert not result.success
    assert ProbeExecutor.calls == ["a.ok", "a.fail"]
    (failure,) = events_of(result, "STEP_FAILURE")
    assert failure.step_key == "a__fail"
    data = failure.event_specific_data
    assert data.user_failure_data.description == "failed on purpose (password was ***)"
    metadata = {k: v.value for k, v in data.user_failure_data.metadata.items()}
    assert metadata["status"] == "failed" and metadata["step"] == "a.fail"
    assert metadata["error"] == "failed on purpose (password was ***)"
    started = [e.step_key for e in events_of(result, "STEP_START")]
    assert started == ["a__ok", "a__fail"]  # the later steps never start
    everything = json.dumps([str(e) for e in instance.all_logs(result.run_id)])
    assert "hunter2-secret" not in everything
    assert any(
        m.startswith("task a.fail failed: ") for _, _, m in log_lines(instance, result.run_id)
    )


def test_dagster_retries_a_task_lakeroutine_tries_each_attempt_once(
    probe_routine, registry, instance
):
    path = probe_routine(("a", [{"task": "flaky", "retries": 2}]), fail_times=2)
    result = execute(routine_definitions(path, registry=registry), instance)
    assert result.success
    assert ProbeExecutor.calls == ["a.flaky"] * 3  # one call per Dagster attempt
    assert len(events_of(result, "STEP_UP_FOR_RETRY")) == 2
    entry = outputs(result)["a__flaky"]
    assert entry["output"] == {"attempts": 3} and entry["attempts"] == 1


def test_retries_run_out_after_the_tasks_retries_not_more(probe_routine, registry, instance):
    path = probe_routine(("a", [{"task": "flaky", "retries": 1}, "ok"]), fail_times=5)
    result = execute(routine_definitions(path, registry=registry), instance)
    assert not result.success
    assert ProbeExecutor.calls == ["a.flaky"] * 2  # not 4: the two layers do not multiply
    (failure,) = events_of(result, "STEP_FAILURE")
    assert (
        failure.event_specific_data.user_failure_data.description
        == "RuntimeError: attempt 2 failed"
    )


def test_a_routine_invalid_at_run_time_fails_without_retrying(probe_routine, registry, instance):
    path = probe_routine(("a", [{"task": "ok", "retries": 3}]))
    defs = routine_definitions(path, registry=registry)
    spec = json.loads(path.read_text())
    spec["executors"]["a"]["params"]["fail_times"] = -1  # edited after loading
    path.write_text(json.dumps(spec))
    result = execute(defs, instance)
    assert not result.success and ProbeExecutor.calls == []
    assert events_of(result, "STEP_UP_FOR_RETRY") == []
    (failure,) = events_of(result, "STEP_FAILURE")
    description = failure.event_specific_data.user_failure_data.description
    assert description.startswith(f"{path}, executor 'a', field 'params.fail_times'")


def test_an_op_meeting_another_run_of_the_routine_fails_retryably(
    tmp_path, probe_routine, registry, instance
):
    """lakeroutine runs one run of a routine at a time: an op of a second run fails naming
    the holder, and Dagster's retry policy may get it in once the other run has ended."""
    from lakeroutine.state.lock import FileLock, this_process

    path = probe_routine(("a", [{"task": "ok", "retries": 4, "retry_delay_s": 1}]))
    defs = routine_definitions(path, registry=registry)
    other = FileLock(tmp_path / "state" / "probe.lock", "probe")
    other.acquire(this_process("the-other-run"))
    threading.Timer(2.5, other.release).start()  # the other run ends meanwhile
    result = execute(defs, instance)
    assert result.success and ProbeExecutor.calls == ["a.ok"]
    retries = events_of(result, "STEP_UP_FOR_RETRY")
    assert 1 <= len(retries) <= 4
    why = messages(retries[0].event_specific_data.error)
    assert "Failure: routine 'probe' is already running (run the-other-run, pid " in why


def test_the_quickstart_runs_as_a_dagster_job(tmp_path, instance):
    """The real StagingExecutor and DuckDBExecutor, step by step: transfer's journal is
    what post_staging archives, though they run as separate steps."""
    shutil.copytree(EXAMPLES / "quickstart", tmp_path / "quickstart", ignore=_no_lake)
    import runpy

    land = runpy.run_path(str(tmp_path / "quickstart" / "land_files.py"))["land"]
    landed = land(files=2, rows=10, seed=1)
    defs = routine_definitions(tmp_path / "quickstart" / "routine.json")
    result = execute(defs, instance, name="quickstart_sales")
    assert result.success
    reported = outputs(result)
    assert reported["StagingExecutor__transfer"]["output"]["staged"] == 2
    assert reported["StagingExecutor__post_staging"]["output"]["archived"] == 2
    assert reported["sales_tables__run_query"]["output"]["rows"] > 0
    lake = tmp_path / "quickstart" / "lake"
    assert not any(p.exists() for p in landed)
    assert len(list((lake / "landing" / "sales_archive").iterdir())) == 2
    assert (lake / "reports" / "revenue_by_job.csv").read_text().startswith("job,sales,revenue")


def _no_lake(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "lake"]


def test_a_task_refused_against_what_exists_fails_without_retrying(
    probe_routine, registry, instance
):
    """TaskRefused (the CLI exits 2): Dagster does not retry it, whatever the policy."""
    path = probe_routine(("a", [{"task": "refuse", "retries": 3}]))
    result = execute(routine_definitions(path, registry=registry), instance)
    assert not result.success
    assert ProbeExecutor.calls == ["a.refuse"]  # tried once
    assert events_of(result, "STEP_UP_FOR_RETRY") == []
    (failure,) = events_of(result, "STEP_FAILURE")
    assert "exists with another schema" in failure.event_specific_data.user_failure_data.description
