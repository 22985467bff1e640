"""Honest outcomes under real Dagster (issue 18): a step refused by a preflight check says
refused in the event log, each op's log speaks of its step (not "routine ... succeeded"), a
routine name Dagster refuses becomes a valid job name, and a re-execution whose step id came
to name another task (the file edited between the runs) is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from core_probe import ProbeExecutor
from dagster._core.definitions.reconstruct import ReconstructableJob
from lakeroutine_dagster import routine_definitions


def execute(defs: dg.Definitions, instance: dg.DagsterInstance, name: str = "probe") -> Any:
    return defs.get_job_def(name).execute_in_process(instance=instance, raise_on_error=False)


def log_lines(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str | None, int, str]]:
    return [
        (entry.step_key, entry.level, entry.user_message)
        for entry in instance.all_logs(run_id)
        if not entry.is_dagster_event
    ]


def messages(error: Any) -> str:
    found = []
    while error is not None:
        found.append(f"{error.cls_name}: {error.message}")
        error = error.cause or error.context
    return "\n".join(found)


def defs_file(folder: Path, routine: Path) -> Path:
    """A definitions file over ``routine``, as a user writes it (rebuilt for each run)."""
    path = folder / "definitions.py"
    path.write_text(
        "from core_probe import probe_registry\n"
        "from lakeroutine_dagster import routine_definitions\n\n"
        f"job = routine_definitions({str(routine)!r}, registry=probe_registry())"
        ".get_job_def('probe')\n"
    )
    return path


def execute_file(definitions: Path, instance: dg.DagsterInstance, **kw: Any) -> Any:
    job = ReconstructableJob.for_file(str(definitions), "job")
    run_config = {"execution": {"config": {"in_process": {}}}}
    return dg.execute_job(job, instance, run_config=run_config, raise_on_error=False, **kw)


def started_steps(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [
        e.step_key
        for e in instance.all_logs(run_id)
        if e.is_dagster_event and e.dagster_event.event_type_value == "STEP_START"
    ]


@pytest.fixture
def persistent_instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance


def _lines(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str | None, str]]:
    return [(step, message) for step, _level, message in log_lines(instance, run_id)]


def test_each_op_logs_its_step_not_the_routine(probe_routine, registry, instance):
    path = probe_routine(("a", ["ok", "ok"]))
    result = execute(routine_definitions(path, registry=registry), instance)
    assert result.success
    lines = _lines(instance, result.run_id)
    assert ("a__ok", "step a.ok (routine probe) started (run " + result.run_id + ")") in lines
    ends = [m for step, m in lines if "succeeded:" in m and m.startswith("step ")]
    assert [m.split(" in ")[0] for m in ends] == [
        "step a.ok (routine probe) succeeded: 1 task: 1 succeeded",
        "step a.ok#2 (routine probe) succeeded: 1 task: 1 succeeded",
    ]
    # the routine's summary, once, from its last step
    summaries = [(step, m) for step, m in lines if m.startswith("routine probe")]
    assert summaries == [("a__ok__2", "routine probe succeeded: 2 steps: 2 succeeded")]


def test_a_selection_of_ops_claims_no_summary_of_the_routine(probe_routine, registry, instance):
    path = probe_routine(("a", ["ok", "ok"]))
    job = routine_definitions(path, registry=registry).get_job_def("probe")
    result = job.execute_in_process(instance=instance, op_selection=["a__ok__2"])
    assert result.success and ProbeExecutor.calls == ["a.ok"]
    assert not [m for _step, m in _lines(instance, result.run_id) if m.startswith("routine ")]


def test_a_step_refused_by_a_preflight_check_never_says_succeeded(
    probe_routine, registry, instance
):
    path = probe_routine(("a", ["ok"]), preflight_fails=True)
    result = execute(routine_definitions(path, registry=registry), instance)
    assert not result.success
    assert ProbeExecutor.calls == []
    lines = [m for _step, m in _lines(instance, result.run_id)]
    assert "step a.ok (routine probe) refused before its first task: nothing ran" in lines
    assert not [m for m in lines if "succeeded" in m]
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.event_specific_data.error
    assert "preflight failed on purpose" in messages(error)


def test_a_routine_name_dagster_refuses_becomes_a_valid_job_name(probe_routine, registry, instance):
    path = probe_routine(("a", ["ok"]), name="sales daily (EU)")
    defs = routine_definitions(path, registry=registry)
    result = execute(defs, instance, name="sales_daily__EU_")
    assert [job.name for job in defs.jobs] == ["sales_daily__EU_"]
    assert result.success


def test_a_reexecution_whose_step_id_came_to_name_another_task_is_refused(
    tmp_path,
    probe_routine,
    persistent_instance,
):
    echo_x = {"task": "echo", "args": {"message": "x"}}
    echo_y = {"task": "echo", "args": {"message": "y"}}
    routine = probe_routine(("a", ["ok", "flaky", echo_x, echo_y]), fail_times=1)
    definitions = defs_file(tmp_path, routine)
    first = execute_file(definitions, persistent_instance)
    assert not first.success
    assert started_steps(persistent_instance, first.run_id) == ["a__ok", "a__flaky"]

    # someone inserts a task before the two echoes: a.echo now names "inserted"
    spec = json.loads(routine.read_text())
    spec["executors"]["a"]["tasks"].insert(0, {"task": "echo", "args": {"message": "inserted"}})
    routine.write_text(json.dumps(spec))
    options = dg.ReexecutionOptions.from_failure(first.run_id, persistent_instance)
    ProbeExecutor.calls.clear()
    second = execute_file(definitions, persistent_instance, reexecution_options=options)
    assert not second.success
    assert "a.echo" not in ProbeExecutor.calls  # neither echo ran in another's place
    outputs = [
        entry.dagster_event.event_specific_data.metadata.get("output")
        for entry in persistent_instance.all_logs(second.run_id)
        if entry.is_dagster_event and entry.dagster_event.event_type_value == "STEP_OUTPUT"
    ]
    assert all("inserted" not in json.dumps(getattr(o, "value", None)) for o in outputs)
    failures = [
        entry.dagster_event
        for entry in persistent_instance.all_logs(second.run_id)
        if entry.is_dagster_event and entry.dagster_event.event_type_value == "STEP_FAILURE"
    ]
    text = "\n".join(messages(f.event_specific_data.error) for f in failures)
    text += "\n".join(
        str(f.event_specific_data.user_failure_data.description)
        for f in failures
        if f.event_specific_data.user_failure_data is not None
    )
    # the re-execution carries the first run's tags: what each id named when it was launched
    assert "step 'a.echo' now names another task than when the scheduler read" in text
    assert "the task it named is now step 'a.echo#2'" in text
