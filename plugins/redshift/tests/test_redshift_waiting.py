"""Waiting on statements: failures carry the service's error and the SQL, retries and reruns
re-attach or resume instead of sending statements again, and cancelling stops the
statement. moto's statements are driven from the test (see conftest.DataApiDriver)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import pytest
from lakeroutine.testing import another_machine, default_sigint, left_local_state
from lakeroutine_redshift.emulator import end

SCRIPT = "CREATE TABLE IF NOT EXISTS t (x INT); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)"


def _sql_task(**extra: Any) -> dict[str, Any]:
    return {"task": "execute_sql", "args": {"sql": SCRIPT}, **extra}


def test_failed_statement_fails_the_task_with_error_and_sql(
    run: Any, data_api: Any, rs_routine: Any
) -> None:
    def rule(statement: Any) -> tuple[str, Any]:
        if "VALUES (1)" in statement.query_string:
            return ("FAILED", 'ERROR: relation "t" does not exist')
        return ("FINISHED", 0)

    data_api.rule = rule
    routine = rs_routine([_sql_task(), {"task": "create_schema", "args": {"schema": "later"}}])
    result = run(routine)
    assert result.status == "failed"
    failed, later = result.tasks
    assert failed.status == "failed"
    assert "statement 2 of 3" in failed.error
    assert 'FAILED: ERROR: relation "t" does not exist' in failed.error
    assert "SQL: INSERT INTO t VALUES (1)" in failed.error
    assert later.status == "skipped"
    assert len(data_api.statements) == 2  # the third statement was never sent


def test_a_rerun_resumes_at_the_failed_statement(run: Any, data_api: Any, rs_routine: Any) -> None:
    data_api.rule = lambda s: (
        ("FAILED", "ERROR: disk full") if "VALUES (1)" in s.query_string else ("FINISHED", 1)
    )
    assert run(rs_routine([_sql_task()])).status == "failed"
    first_ids = [s.id for s in data_api.statements]

    data_api.rule = lambda s: ("FINISHED", 1)
    result = run(rs_routine([_sql_task()]))
    assert result.status == "succeeded", result.tasks[0].error
    # CREATE is not sent again; the failed INSERT is sent afresh, then the last one.
    assert data_api.sql == [
        "CREATE TABLE IF NOT EXISTS t (x INT)",
        "INSERT INTO t VALUES (1)",
        "INSERT INTO t VALUES (1)",
        "INSERT INTO t VALUES (2)",
    ]
    reports = result.tasks[0].output["statements"]
    assert reports[0]["id"] == first_ids[0] and reports[0]["resumed"] is True
    assert reports[1]["id"] != first_ids[1]
    # Succeeded: the state is cleared, so a third run sends everything again.
    run(rs_routine([_sql_task()]))
    assert len(data_api.statements) == 7


def test_retry_sends_a_failed_statement_again(run: Any, data_api: Any, rs_routine: Any) -> None:
    failures = []

    def rule(statement: Any) -> tuple[str, Any]:
        if not failures:
            failures.append(statement.id)
            return ("ABORTED", "canceled by the operator")
        return ("FINISHED", 0)

    data_api.rule = rule
    result = run(rs_routine([{"task": "create_schema", "args": {"schema": "s"}, "retries": 1}]))
    assert result.status == "succeeded", result.tasks[0].error
    assert result.tasks[0].attempts == 2
    assert len(data_api.statements) == 2
    assert result.tasks[0].output["statement_id"] == data_api.statements[1].id


def test_max_wait_cancels_the_statement(run: Any, data_api: Any, rs_routine: Any) -> None:
    data_api.rule = lambda s: None  # never finishes
    result = run(rs_routine([_sql_task()], max_wait_s=0.1))
    task = result.tasks[0]
    assert task.status == "failed"
    assert "did not finish within max_wait_s=0.1; stopped" in task.error
    assert "\nSQL: " in task.error  # the statement that took too long
    (statement,) = data_api.statements
    assert statement.status == "ABORTED"  # cancel_statement reached the service


def test_timeout_cancels_the_running_statement(run: Any, data_api: Any, rs_routine: Any) -> None:
    assert run(rs_routine([_sql_task()])).status == "succeeded"  # the first call's imports
    before = len(data_api.statements)
    data_api.rule = lambda s: None  # then a statement that never ends
    result = run(rs_routine([_sql_task(timeout_s=2)]))
    assert result.tasks[0].status == "failed"
    (statement,) = data_api.statements[before:]
    assert statement.status == "ABORTED"


def test_a_timeout_while_the_statement_is_sent_still_cancels_it(
    run: Any, data_api: Any, rs_routine: Any, monkeypatch: Any
) -> None:
    import time

    from moto.redshiftdata.responses import RedshiftDataAPIServiceResponse as Response

    original = Response.execute_statement

    def slow(response: Any) -> Any:  # the emulator answers late, as over a slow network
        answer = original(response)
        time.sleep(0.6)
        return answer

    monkeypatch.setattr(Response, "execute_statement", slow)
    data_api.rule = lambda s: None
    result = run(rs_routine([_sql_task(timeout_s=0.2)]))
    assert result.tasks[0].status == "failed"
    deadline = time.monotonic() + 5
    while not (data_api.statements and data_api.statements[0].status == "ABORTED"):
        assert time.monotonic() < deadline, "the statement was not cancelled"
        time.sleep(0.01)
    assert len(data_api.statements) == 1


def test_a_statement_that_ended_as_the_task_timed_out_is_not_run_twice(
    run: Any, data_api: Any, rs_routine: Any, monkeypatch: Any
) -> None:
    from moto.redshiftdata.responses import RedshiftDataAPIServiceResponse as Response

    original, looks = Response.describe_statement, []

    def counted(response: Any) -> Any:
        looks.append(response._get_param("Id"))
        return original(response)

    monkeypatch.setattr(Response, "describe_statement", counted)
    data_api.rule = lambda s: ("FINISHED", 40) if looks else None  # ends between two polls
    copy = {
        "table": {"name": "sales"},
        "source": "s3://lake/staging/sales/",
        "iam_role": "arn:aws:iam::123456789012:role/loader",
    }
    # the timeout falls in the 30 s sleep between two polls, well after the submission
    task = {"task": "copy_from_s3", "args": copy, "timeout_s": 4}
    routine = rs_routine([task], poll_interval_s=30)
    assert "did not finish within 4 s" in run(routine).tasks[0].error
    (statement,) = data_api.statements
    assert statement.status == "FINISHED"  # the service would not cancel it: it had ended

    result = run(routine)
    assert result.status == "succeeded", result.tasks[0].error
    assert data_api.statements == [statement]  # the COPY did not load the rows twice
    assert result.tasks[0].output["rows_loaded"] == 40


def _start_cli(routine_file: Any, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lakeroutine.cli", "run", str(routine_file)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,  # Ctrl-C works even when run in the background
    )


def _wait_for_log(process: subprocess.Popen[str], text: str) -> None:
    """Read the run's log until a line holds ``text`` (the run goes on meanwhile)."""
    assert process.stderr is not None
    for line in process.stderr:
        if text in line:
            return
    raise AssertionError(f"the run ended without logging {text!r}")


def _kill_once_logged(routine_file: Any, text: str) -> None:
    """Run the routine with the CLI and kill it (SIGKILL) once its log holds ``text``."""
    process = _start_cli(routine_file, dict(os.environ))
    try:
        _wait_for_log(process, text)
    finally:
        process.kill()
        process.communicate()


SHARED_STATE = "s3://rs-state/state/?lease_s=2"


@pytest.mark.parametrize("shared", [False, True], ids=["local-state", "s3-state"])
def test_a_killed_run_re_attaches_to_its_statement(
    run: Any, data_api: Any, rs_routine: Any, lake: Any, shared: bool, monkeypatch
) -> None:
    """With ``shared``, the state is on S3 and the rerun starts from another working folder
    and HOME (another machine), once the killed run's lease has expired."""
    data_api.rule = lambda s: None if "VALUES (1)" in s.query_string else ("FINISHED", 1)
    spec = rs_routine([_sql_task()])
    if shared:
        import boto3

        boto3.client("s3").create_bucket(Bucket="rs-state")
        del spec["state_dir"]
        spec["state"] = SHARED_STATE
    path = lake.routine_file(spec)
    _kill_once_logged(path, "statement 2 sent")  # logged once its id is saved
    waiting = data_api.statements[1]
    assert waiting.status == "STARTED"

    data_api.rule = lambda s: ("FINISHED", 1)
    if shared:
        another_machine(monkeypatch, lake.root)
    result = run(path, wait_for_lock=30)
    if shared:
        assert left_local_state(lake.root) == []
    assert result.status == "succeeded", result.tasks[0].error
    reports = result.tasks[0].output["statements"]
    assert reports[1]["id"] == waiting.id  # re-attached, not sent again
    assert len(data_api.statements) == 3


def test_a_rerun_sends_again_a_statement_that_failed_unwatched(
    run: Any, data_api: Any, rs_routine: Any, lake: Any
) -> None:
    data_api.rule = lambda s: None if "VALUES (1)" in s.query_string else ("FINISHED", 1)
    path = lake.routine_file(rs_routine([_sql_task()]))
    _kill_once_logged(path, "statement 2 sent")
    waiting = data_api.statements[1]
    end(waiting, "FAILED", "ERROR: deadlock detected")  # while no one was waiting

    data_api.rule = lambda s: ("FINISHED", 1)
    result = run(path)
    assert result.status == "succeeded", result.tasks[0].error
    reports = result.tasks[0].output["statements"]
    assert reports[0]["resumed"] is True
    assert reports[1]["id"] != waiting.id  # sent again, not the failed one re-reported
    assert data_api.sql[1:] == ["INSERT INTO t VALUES (1)"] * 2 + ["INSERT INTO t VALUES (2)"]


def test_ctrl_c_cancels_the_statement(data_api: Any, rs_routine: Any, lake: Any) -> None:
    data_api.rule = lambda s: None
    path = lake.routine_file(rs_routine([_sql_task()]))
    process = _start_cli(path, dict(os.environ))
    try:
        _wait_for_log(process, "statement 1 sent")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    (statement,) = data_api.statements
    assert statement.status == "ABORTED", stderr
    assert process.returncode != 0


def test_a_saved_statement_the_service_forgot_is_sent_again(
    run: Any, data_api: Any, rs_routine: Any, lake: Any, moto_endpoint: str
) -> None:
    import urllib.request

    data_api.rule = lambda s: None
    path = lake.routine_file(rs_routine([_sql_task()]))
    _kill_once_logged(path, "statement 1 sent")
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).read()  # the statement ids expire
    assert data_api.statements == []

    data_api.rule = lambda s: ("FINISHED", 1)
    result = run(path)
    assert result.status == "succeeded", result.tasks[0].error
    assert len(data_api.statements) == 3


def test_an_edited_sql_file_starts_afresh(
    run: Any, data_api: Any, rs_routine: Any, lake: Any
) -> None:
    script = lake.root / "load.sql"
    script.write_text("DELETE FROM t; INSERT INTO t VALUES (1)")
    path = lake.routine_file(
        rs_routine([{"task": "execute_sql", "args": {"sql_file": "load.sql"}}])
    )
    data_api.rule = lambda s: (
        ("FAILED", "ERROR: bad") if "INSERT" in s.query_string else ("FINISHED", 0)
    )
    assert run(path).status == "failed"

    script.write_text("TRUNCATE t; INSERT INTO t VALUES (2)")  # same file name, new SQL
    data_api.rule = lambda s: ("FINISHED", 0)
    result = run(path)
    assert result.status == "succeeded", result.tasks[0].error
    assert data_api.sql[2:] == ["TRUNCATE t", "INSERT INTO t VALUES (2)"]
    assert not any(r.get("resumed") for r in result.tasks[0].output["statements"])


def test_a_failed_upsert_changes_nothing_and_resumes_at_the_swap(
    run: Any, data_api: Any, rs_routine: Any
) -> None:
    task = {
        "task": "copy_from_s3",
        "args": {
            "table": {"name": "sales", "schema": "lake"},
            "source": "s3://lake/staging/sales/",
            "iam_role": "arn:aws:iam::123456789012:role/loader",
            "mode": "upsert",
            "keys": ["id"],
        },
    }
    data_api.rule = lambda s: (
        ("FAILED", "ERROR: value too long for type character varying(8)", 2)
        if s.sub_statements
        else ("FINISHED", 10)
    )
    failed = run(rs_routine([task]))
    error = failed.tasks[0].error
    assert "statement 4 of 4" in error and "FAILED: ERROR: value too long" in error
    assert 'SQL: INSERT INTO "lake"."sales" SELECT * FROM' in error  # the failing part
    assert [s["Status"] for s in data_api.statements[3].sub_statements] == [
        "FINISHED",
        "FAILED",
        "ABORTED",
    ]  # one transaction: the DELETE is rolled back with it

    data_api.rule = lambda s: ("FINISHED", 10)
    result = run(rs_routine([task]))
    assert result.status == "succeeded", result.tasks[0].error
    assert len(data_api.statements) == 5  # only the swap was sent again
    assert [r.get("resumed", False) for r in result.tasks[0].output["statements"]] == [
        True,
        True,
        True,
        False,
    ]
