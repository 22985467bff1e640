"""A routine file edited after Dagster loaded the definitions but before the run: a step
whose id now names another task (one inserted before a duplicate ``#n``) refuses, runs
nothing, and is not retried."""

from __future__ import annotations

from core_probe import ProbeExecutor
from lakeroutine_dagster import routine_definitions


def echo(message: str) -> dict:
    return {"task": "echo", "args": {"message": message}, "retries": 2}


def failure_of(result, step: str) -> str:
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == step
    return failure.event_specific_data.user_failure_data.description


def test_a_step_renamed_by_an_edit_after_load_refuses(probe_routine, registry, instance):
    path = probe_routine(("a", [echo("first"), echo("second")]))
    job = routine_definitions(path, registry=registry).get_job_def("probe")  # a, then a#2
    probe_routine(("a", [echo("inserted"), echo("first"), echo("second")]))  # ids shifted
    ProbeExecutor.calls.clear()

    result = job.execute_in_process(instance=instance, raise_on_error=False)

    assert not result.success
    assert ProbeExecutor.calls == []  # nothing ran: neither the inserted task nor the first
    assert [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"] == []
    error = failure_of(result, "a__echo")
    assert error.startswith(f"{path}, executor 'a', task 'echo': step 'a.echo' now names")
    assert "the task it named is now step 'a.echo#2'" in error


def test_a_run_worker_rebuilding_definitions_compares_with_the_runs_record(
    probe_routine, registry, instance
):
    """A run worker rebuilds definitions from the file as it is when the run starts: the
    run's tags, set at launch from the definitions then loaded, still say what each id named."""
    path = probe_routine(("a", [echo("first"), echo("second")]))
    launched = routine_definitions(path, registry=registry).get_job_def("probe")
    probe_routine(("a", [echo("inserted"), echo("first"), echo("second")]))
    rebuilt = routine_definitions(path, registry=registry).get_job_def("probe")
    ProbeExecutor.calls.clear()

    result = rebuilt.execute_in_process(
        instance=instance, raise_on_error=False, tags=dict(launched.tags)
    )

    assert not result.success and ProbeExecutor.calls == []
    assert "now names another task" in failure_of(result, "a__echo")


def test_an_unchanged_routine_runs(probe_routine, registry, instance):
    path = probe_routine(("a", [echo("first"), echo("second")]))
    job = routine_definitions(path, registry=registry).get_job_def("probe")
    ProbeExecutor.calls.clear()
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success and ProbeExecutor.calls == ["a.echo", "a.echo"]
