"""Glue jobs over moto: explicit create-or-update, runs waited on through their states,
every failure state a task failure with Glue's message and the log group, re-attaching
after a kill, and stopping the run on Ctrl-C or max_wait_s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import pytest
from lakeroutine.errors import RoutineError
from lakeroutine.testing import another_machine, default_sigint, left_local_state

ROLE = "arn:aws:iam::123456789012:role/glue-etl"
JOB = {
    "name": "sales_to_redshift",
    "role": ROLE,
    "script_location": "s3://lake/scripts/sales.py",
    "worker_type": "G.1X",
    "number_of_workers": 2,
    "default_arguments": {"--job-language": "python", "enable-metrics": "true"},
}


def _job(**changes: Any) -> dict[str, Any]:
    return {"task": "create_or_update_job", "args": {**JOB, **changes}}


def _start(**args: Any) -> dict[str, Any]:
    return {"task": "start_job", "args": {"job_name": "sales_to_redshift", **args}}


def test_create_keep_and_update_a_job(run: Any, glue: Any, glue_routine: Any) -> None:
    created = run(glue_routine([_job()]))
    assert created.tasks[0].output["action"] == "created"
    job = glue.backend.jobs["sales_to_redshift"]
    assert job.role == ROLE
    assert job.command == {
        "Name": "glueetl",
        "ScriptLocation": "s3://lake/scripts/sales.py",
        "PythonVersion": "3",
    }
    assert job.default_arguments == {"--job-language": "python", "--enable-metrics": "true"}
    assert (job.worker_type, job.number_of_workers, job.glue_version) == ("G.1X", 2, "4.0")

    kept = run(glue_routine([_job(number_of_workers=10)]))
    assert kept.tasks[0].output == {
        "name": "sales_to_redshift",
        "action": "skipped",
        "changed": ["NumberOfWorkers"],
    }
    assert glue.backend.jobs["sales_to_redshift"].number_of_workers == 2

    refused = run(glue_routine([_job(if_exists="fail")]))
    assert "Glue job 'sales_to_redshift' already exists" in refused.tasks[0].error

    updated = run(glue_routine([_job(number_of_workers=10, if_exists="update")]))
    assert updated.tasks[0].output["action"] == "updated"
    assert updated.tasks[0].output["changed"] == ["NumberOfWorkers"]
    assert glue.backend.jobs["sales_to_redshift"].number_of_workers == 10

    fewer = {"--job-language": "python"}  # an argument removed is a change too
    updated = run(
        glue_routine([_job(number_of_workers=10, default_arguments=fewer, if_exists="update")])
    )
    assert updated.tasks[0].output["changed"] == ["DefaultArguments"]
    assert glue.backend.jobs["sales_to_redshift"].default_arguments == fewer


def test_start_job_waits_through_its_states(run: Any, glue: Any, glue_routine: Any) -> None:
    glue.set_transition("glue::job_run", {"progression": "manual", "times": 2})
    result = run(glue_routine([_job(), _start(arguments={"--day": "2026-11-24", "mode": "full"})]))
    assert result.status == "succeeded", [t.error for t in result.tasks]
    (job_run,) = glue.job_runs("sales_to_redshift")
    assert job_run.status == "SUCCEEDED"
    assert job_run._tick == 0 and job_run.arguments["--day"] == "2026-11-24"
    assert job_run.arguments["--mode"] == "full"  # the leading -- was added
    assert job_run.arguments["--job-language"] == "python"  # the job's defaults remain
    output = result.tasks[1].output
    assert output["run_id"] == job_run.job_run_id
    assert output["state"] == "SUCCEEDED"
    assert output["log_group_output"].endswith("/output")
    assert output["log_group_error"].endswith("/error")
    assert output["log_stream"] == job_run.job_run_id
    assert output["duration_s"] > 0


def test_start_without_waiting_returns_the_run(run: Any, glue: Any, glue_routine: Any) -> None:
    glue.set_transition("glue::job_run", {"progression": "manual", "times": 1000})
    result = run(glue_routine([_job(), _start(wait=False)]))
    assert result.status == "succeeded"
    (job_run,) = glue.job_runs("sales_to_redshift")
    assert result.tasks[1].output["run_id"] == job_run.job_run_id
    assert result.tasks[1].output["state"] == "STARTING"


def test_missing_job_fails_before_later_tasks(run: Any, glue: Any, glue_routine: Any) -> None:
    result = run(glue_routine([_start(job_name="no_such_job"), "create_database"]))
    assert result.status == "failed"
    assert result.tasks[0].error == "Glue job 'no_such_job' does not exist"
    assert result.tasks[1].status == "skipped"
    assert glue.backend.databases == {}


@pytest.mark.parametrize("state", ["FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED"])
def test_every_failure_state_fails_the_task_with_glue_s_message(
    run: Any, glue: Any, glue_routine: Any, state: str
) -> None:
    glue.set_transition("glue::job_run", {"progression": "manual", "times": 1000})
    glue.when(
        lambda: glue.job_runs("sales_to_redshift"),
        lambda runs: glue.fail_job_run(runs[0], state, "NameError: name 'spark' is not defined"),
    )
    result = run(glue_routine([_job(), _start(), "create_database"]))
    task = result.tasks[1]
    assert task.status == "failed"
    (job_run,) = glue.job_runs("sales_to_redshift")
    assert f"run {job_run.job_run_id} {state}: NameError: name 'spark' is not defined" in task.error
    assert f"/error, stream {job_run.job_run_id}" in task.error
    assert result.tasks[2].status == "skipped"


def test_retry_after_a_failed_run_starts_a_new_run(run: Any, glue: Any, glue_routine: Any) -> None:
    glue.set_transition("glue::job_run", {"progression": "manual", "times": 3})
    glue.when(
        lambda: glue.job_runs("sales_to_redshift"),
        lambda runs: glue.fail_job_run(runs[0], "FAILED", "OutOfMemory"),
    )
    result = run(glue_routine([_job(), {**_start(), "retries": 1}]))
    assert result.status == "succeeded", [t.error for t in result.tasks]
    first, second = glue.job_runs("sales_to_redshift")
    assert first.status == "FAILED" and second.status == "SUCCEEDED"
    assert result.tasks[1].output["run_id"] == second.job_run_id


def test_max_wait_stops_the_run(run: Any, glue: Any, glue_routine: Any) -> None:
    glue.set_transition("glue::job_run", {"progression": "manual", "times": 100000})
    result = run(glue_routine([_job(), _start()], max_wait_s=0.1))
    assert "did not finish within max_wait_s=0.1; stopped" in result.tasks[1].error
    (job_run,) = glue.job_runs("sales_to_redshift")
    assert job_run.status == "STOPPED"


def _cli(path: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lakeroutine.cli", "run", str(path)],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,  # Ctrl-C works even when run in the background
    )


def _killed(
    run: Any,
    glue: Any,
    glue_routine: Any,
    lake: Any,
    *,
    before_answer: bool = False,
    state: str | None = None,
) -> tuple[Any, Any]:
    """Start the job from the CLI and kill it (SIGKILL) while it polls the run or, with
    ``before_answer``, once Glue started the run but before its answer came back; return the
    routine file and the run, still going. ``state``: a state store URL for the routine."""
    assert run(glue_routine([_job()])).status == "succeeded"
    glue.set_transition("glue::job_run", {"progression": "manual", "times": 100000})
    if before_answer:
        glue.delay("start_job_run", 2)
    spec = glue_routine([_start(arguments={"day": "2026-11-24"})])
    if state is not None:
        del spec["state_dir"]
        spec["state"] = state
    path = lake.routine_file(spec)
    process = _cli(path)
    try:
        (job_run,) = glue.wait_for(lambda: glue.job_runs("sales_to_redshift"))
        if not before_answer:
            glue.wait_for(lambda: job_run._tick >= 3)  # it is polling
    finally:
        process.kill()
        process.communicate()
    return path, job_run


SHARED_STATE = "s3://glue-state/state/?lease_s=2"


@pytest.mark.parametrize(
    ("before_answer", "shared"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_a_killed_run_re_attaches_to_the_job_run(
    run: Any,
    glue: Any,
    glue_routine: Any,
    lake: Any,
    before_answer: bool,
    shared: bool,
    monkeypatch,
) -> None:
    """With ``shared``, the state is on S3 and the rerun starts from another working folder
    and HOME (another machine), once the killed run's lease has expired."""
    state = None
    if shared:
        import boto3

        boto3.client("s3").create_bucket(Bucket="glue-state")
        state = SHARED_STATE
    path, job_run = _killed(run, glue, glue_routine, lake, before_answer=before_answer, state=state)
    assert job_run.status == "STARTING"

    glue.set_transition("glue::job_run", {"progression": "immediate"})
    if shared:
        another_machine(monkeypatch, lake.root)
    result = run(path, wait_for_lock=30)
    if shared:
        assert left_local_state(lake.root) == []
    assert result.status == "succeeded", result.tasks[0].error
    assert glue.job_runs("sales_to_redshift") == [job_run]  # no second run
    assert result.tasks[0].output["run_id"] == job_run.job_run_id


def test_a_rerun_after_the_run_failed_unwatched_starts_a_new_run(
    run: Any, glue: Any, glue_routine: Any, lake: Any
) -> None:
    path, job_run = _killed(run, glue, glue_routine, lake)
    glue.fail_job_run(job_run, "FAILED", "OutOfMemory")  # while no one was waiting

    glue.set_transition("glue::job_run", {"progression": "immediate"})
    result = run(path)
    assert result.status == "succeeded", result.tasks[0].error
    first, second = glue.job_runs("sales_to_redshift")
    assert first is job_run and second.status == "SUCCEEDED"
    assert result.tasks[0].output["run_id"] == second.job_run_id


def test_ctrl_c_stops_the_job_run(run: Any, glue: Any, glue_routine: Any, lake: Any) -> None:
    assert run(glue_routine([_job()])).status == "succeeded"
    glue.set_transition("glue::job_run", {"progression": "manual", "times": 100000})
    process = _cli(lake.routine_file(glue_routine([_start()])))
    try:
        (job_run,) = glue.wait_for(lambda: glue.job_runs("sales_to_redshift"))
        glue.wait_for(lambda: job_run._tick >= 2)  # it is polling
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert job_run.status == "STOPPED", stderr
    assert process.returncode != 0


@pytest.mark.parametrize(
    ("task", "field", "message"),
    [
        (_job(name="bad name!"), "args.name", "not a valid Glue name"),
        (_job(role="arn:aws:iam::1:user/x"), "args.role", "not an IAM role"),
        (_job(script_location="s3:///x.py"), "args.script_location", "no bucket name"),
        (_job(number_of_workers=None), "args", "worker_type and number_of_workers together"),
        (_job(glue_version="latest"), "args.glue_version", "pattern"),
        (
            _start(arguments={"day": "1", "--day": "2"}),
            "args.arguments",
            "given twice",
        ),
        (_start(arguments={"--a b": "1"}), "args.arguments", "argument name"),
    ],
)
def test_bad_job_input_is_refused_before_anything_is_sent(
    run: Any, glue: Any, glue_routine: Any, task: dict, field: str, message: str
) -> None:
    with pytest.raises(RoutineError) as caught:
        run(glue_routine([task]))
    problems = caught.value.problems or [caught.value]
    assert any(p.field == field and message in p.message for p in problems), str(caught.value)
    assert glue.backend.jobs == {}


def test_a_job_at_its_concurrency_limit_fails_clearly(
    run: Any, glue: Any, glue_routine: Any
) -> None:
    glue.set_transition("glue::job_run", {"progression": "manual", "times": 100000})
    result = run(glue_routine([_job(), _start(wait=False), _start()]))
    assert result.tasks[2].status == "failed"
    assert "Glue job 'sales_to_redshift' is already running as many runs" in result.tasks[2].error
    assert len(glue.job_runs("sales_to_redshift")) == 1


def test_a_task_timeout_stops_the_run(run: Any, glue: Any, glue_routine: Any) -> None:
    glue.set_transition("glue::job_run", {"progression": "manual", "times": 100000})
    result = run(glue_routine([_job(), {**_start(), "timeout_s": 0.3}]))
    assert "did not finish within 0.3 s" in result.tasks[1].error
    (job_run,) = glue.wait_for(lambda: glue.job_runs("sales_to_redshift"))
    glue.wait_for(lambda: job_run.status == "STOPPED", timeout=10)  # a loaded machine may
    # have timed out while the start was in flight: the stop then follows it


def test_a_timeout_while_the_start_is_in_flight_still_stops_the_run(
    run: Any, glue: Any, glue_routine: Any
) -> None:
    glue.set_transition("glue::job_run", {"progression": "manual", "times": 100000})
    assert run(glue_routine([_job()])).status == "succeeded"
    glue.delay("start_job_run", 0.6)  # the timeout fires before the run id is known
    result = run(glue_routine([{**_start(), "timeout_s": 0.2}]))
    assert result.tasks[0].status == "failed"
    (job_run,) = glue.wait_for(lambda: glue.job_runs("sales_to_redshift"))
    glue.wait_for(lambda: job_run.status == "STOPPED", timeout=5)


def test_a_run_that_ended_as_the_task_timed_out_is_re_attached_not_run_again(
    run: Any, glue: Any, glue_routine: Any
) -> None:
    glue.set_transition("glue::job_run", {"progression": "manual", "times": 100000})
    assert run(glue_routine([_job()])).status == "succeeded"
    glue.when(  # the run succeeds while the task sleeps between two polls
        lambda: [r for r in glue.job_runs("sales_to_redshift") if r._tick >= 1],
        lambda runs: setattr(runs[0], "status", "SUCCEEDED"),
    )
    # 3 s: time for the background change on a loaded machine; the poll sleeps 30 s
    routine = glue_routine([{**_start(), "timeout_s": 3}], poll_interval_s=30)
    timed_out = run(routine)
    assert "did not finish within 3 s" in timed_out.tasks[0].error
    (job_run,) = glue.job_runs("sales_to_redshift")
    assert job_run.status == "SUCCEEDED"  # Glue would not stop it: it had ended

    glue.set_transition("glue::job_run", {"progression": "immediate"})
    result = run(routine)
    assert result.status == "succeeded", result.tasks[0].error
    assert glue.job_runs("sales_to_redshift") == [job_run]  # not run a second time
    assert result.tasks[0].output["run_id"] == job_run.job_run_id
