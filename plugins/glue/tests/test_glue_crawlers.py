"""Glue crawlers over moto: explicit create-or-update, a crawl waited on, a crawl already
running joined (not an error), failures with the log stream, and a missing crawler named."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from lakeroutine.errors import RoutineError

ROLE = "glue-crawler"  # a role name is accepted as well as an ARN
CRAWLER = {"name": "sales_crawler", "role": ROLE, "targets": ["s3://lake/staging/sales/"]}


def _crawler(**changes: Any) -> dict[str, Any]:
    return {"task": "create_or_update_crawler", "args": {**CRAWLER, **changes}}


def _crawl(**args: Any) -> dict[str, Any]:
    return {"task": "start_crawler", "args": {"name": "sales_crawler", **args}}


def test_create_keep_and_update_a_crawler(run: Any, glue: Any, glue_routine: Any) -> None:
    result = run(glue_routine([_crawler(exclusions=["**/_tmp/**"], table_prefix="raw_")]))
    assert result.tasks[0].output["action"] == "created"
    crawler = glue.backend.crawlers["sales_crawler"]
    assert crawler.database_name == "lake"
    assert crawler.role == ROLE
    assert crawler.targets["S3Targets"] == [
        {"Path": "s3://lake/staging/sales/", "Exclusions": ["**/_tmp/**"]}
    ]
    assert crawler.table_prefix == "raw_"

    more = ["s3://lake/staging/sales/", "s3://lake/staging/returns/"]
    kept = run(glue_routine([_crawler(targets=more)]))
    assert kept.tasks[0].output["action"] == "skipped"
    assert kept.tasks[0].output["changed"] == ["Targets"]  # an omitted prefix is left as is
    assert len(glue.backend.crawlers["sales_crawler"].targets["S3Targets"]) == 1

    updated = run(glue_routine([_crawler(targets=more, if_exists="update")]))
    assert updated.tasks[0].output["action"] == "updated"
    paths = [t["Path"] for t in glue.backend.crawlers["sales_crawler"].targets["S3Targets"]]
    assert paths == more


def test_start_crawler_waits_for_the_crawl(run: Any, glue: Any, glue_routine: Any) -> None:
    glue.set_transition("glue::crawl", {"progression": "time", "seconds": 0.1})
    result = run(glue_routine([_crawler(), _crawl()]))
    assert result.status == "succeeded", [t.error for t in result.tasks]
    crawler = glue.backend.crawlers["sales_crawler"]
    (crawl,) = crawler.crawls
    assert crawl.status == "COMPLETED"
    output = result.tasks[1].output
    assert output["last_crawl_status"] == "SUCCEEDED"
    assert output["joined_running_crawl"] is False
    assert output["state"] == "READY"
    assert output["duration_s"] >= 0.1  # it waited for the crawl
    assert output["log_group"] == "/aws-glue/crawlers"
    assert output["log_stream"] == "sales_crawler"


def test_a_running_crawl_is_joined(
    run: Any, glue: Any, glue_client: Any, glue_routine: Any
) -> None:
    glue.set_transition("glue::crawl", {"progression": "manual", "times": 100000})
    assert run(glue_routine([_crawler()])).status == "succeeded"
    glue_client.start_crawler(Name="sales_crawler")  # someone else's crawl, still running
    gets = glue.count("get_crawler")
    crawler = glue.backend.crawlers["sales_crawler"]
    # It ends once the task has seen it running and polled it (not after a fixed time: a
    # loaded machine may take longer than that to start the task).
    glue.when(lambda: len(gets) >= 2, lambda _: setattr(crawler.crawls[-1], "status", "COMPLETED"))
    result = run(glue_routine([_crawl()]))
    assert result.status == "succeeded", result.tasks[0].error
    assert result.tasks[0].output["joined_running_crawl"] is True
    assert len(glue.backend.crawlers["sales_crawler"].crawls) == 1  # no second crawl


def test_a_second_crawl_runs_after_a_finished_one(
    run: Any, glue: Any, glue_client: Any, glue_routine: Any
) -> None:
    glue.set_transition("glue::crawl", {"progression": "immediate"})
    assert run(glue_routine([_crawler(), _crawl()])).status == "succeeded"
    result = run(glue_routine([_crawl()]))
    assert result.status == "succeeded", result.tasks[0].error
    assert len(glue.backend.crawlers["sales_crawler"].crawls) == 2


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED"])
def test_a_failed_crawl_fails_the_task_with_glue_s_message(
    run: Any, glue: Any, glue_routine: Any, status: str
) -> None:
    glue.set_transition("glue::crawl", {"progression": "manual", "times": 100000})
    message = "Insufficient Lake Formation permission(s) on s3://lake/staging/sales/"
    glue.when(
        lambda: (
            glue.backend.crawlers.get("sales_crawler")
            and glue.backend.crawlers["sales_crawler"].crawls
            and glue.backend.crawlers["sales_crawler"]
        ),
        lambda crawler: glue.fail_crawl(crawler, status, message),
    )
    result = run(glue_routine([_crawler(), _crawl(), "create_database"]))
    assert result.tasks[1].status == "failed"
    assert f"Glue crawler 'sales_crawler' crawl {status}: {message}" in result.tasks[1].error
    assert "logs: /aws-glue/crawlers, stream sales_crawler" in result.tasks[1].error
    assert result.tasks[2].status == "skipped"


def test_max_wait_stops_the_crawl(run: Any, glue: Any, glue_routine: Any) -> None:
    glue.set_transition("glue::crawl", {"progression": "manual", "times": 100000})
    result = run(glue_routine([_crawler(), _crawl()], max_wait_s=0.1))
    assert "did not finish within max_wait_s=0.1; stopped" in result.tasks[1].error
    (crawl,) = glue.backend.crawlers["sales_crawler"].crawls
    assert crawl._status == "STOPPING"  # stop_crawler reached the service


def test_max_wait_leaves_a_joined_crawl_running(
    run: Any, glue: Any, glue_client: Any, glue_routine: Any
) -> None:
    glue.set_transition("glue::crawl", {"progression": "manual", "times": 100000})
    assert run(glue_routine([_crawler()])).status == "succeeded"
    glue_client.start_crawler(Name="sales_crawler")  # someone else's crawl
    result = run(glue_routine([_crawl()], max_wait_s=0.1))
    assert "did not finish within max_wait_s=0.1; left running" in result.tasks[0].error
    (crawl,) = glue.backend.crawlers["sales_crawler"].crawls
    assert crawl._status == "RUNNING"  # not stopped: this task did not start it


def test_missing_crawler_fails_naming_it(run: Any, glue: Any, glue_routine: Any) -> None:
    result = run(glue_routine([_crawl(name="ghost"), "create_database"]))
    assert result.tasks[0].error == "Glue crawler 'ghost' does not exist"
    assert result.tasks[1].status == "skipped"


@pytest.mark.parametrize(
    ("params", "task", "field", "message"),
    [
        ({}, _crawler(targets=["s3:///x/"]), "args.targets[0]", "no bucket name"),
        ({}, _crawler(targets=[]), "args.targets", "at least 1"),
        ({}, _crawler(role="not a role"), "args.role", "not an IAM role"),
        ({}, _crawler(schedule="every day"), "args.schedule", "pattern"),
        ({"database": None}, _crawler(), "params.database", "need a catalog database"),
    ],
)
def test_bad_crawler_input_is_refused(
    run: Any, glue: Any, glue_routine: Any, params: dict, task: dict, field: str, message: str
) -> None:
    with pytest.raises(RoutineError) as caught:
        run(glue_routine([task], **params))
    problems = caught.value.problems or [caught.value]
    assert any(p.field == field and message in p.message for p in problems), str(caught.value)
    assert glue.backend.crawlers == {}


def _killed_while_crawling(run: Any, glue: Any, glue_routine: Any, lake: Any) -> tuple[Any, Any]:
    """Start a crawl from the CLI and kill it (SIGKILL) while the crawl runs; return the
    routine file and the crawl."""
    assert run(glue_routine([_crawler()])).status == "succeeded"
    glue.set_transition("glue::crawl", {"progression": "manual", "times": 100000})
    path = lake.routine_file(glue_routine([_crawl()]))
    process = subprocess.Popen(
        [sys.executable, "-m", "lakeroutine.cli", "run", str(path)],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        (crawl,) = glue.wait_for(lambda: glue.backend.crawlers["sales_crawler"].crawls)
    finally:
        process.kill()
        process.wait()
    return path, crawl


def test_a_killed_run_re_attaches_to_its_crawl(
    run: Any, glue: Any, glue_routine: Any, lake: Any
) -> None:
    path, crawl = _killed_while_crawling(run, glue, glue_routine, lake)
    assert crawl.status == "RUNNING"

    glue.set_transition("glue::crawl", {"progression": "time", "seconds": 0.1})
    result = run(path)
    assert result.status == "succeeded", result.tasks[0].error
    assert glue.backend.crawlers["sales_crawler"].crawls == [crawl]  # not started again
    assert result.tasks[0].output["joined_running_crawl"] is False  # it is this task's crawl
    assert result.tasks[0].output["last_crawl_status"] == "SUCCEEDED"


def test_a_timeout_while_the_start_is_in_flight_still_stops_the_crawl(
    run: Any, glue: Any, glue_routine: Any
) -> None:
    glue.set_transition("glue::crawl", {"progression": "manual", "times": 100000})
    assert run(glue_routine([_crawler()])).status == "succeeded"
    glue.delay("start_crawler", 0.6)  # the timeout fires before the start is answered
    result = run(glue_routine([{**_crawl(), "timeout_s": 0.2}]))
    assert result.tasks[0].status == "failed"
    (crawl,) = glue.wait_for(lambda: glue.backend.crawlers["sales_crawler"].crawls)
    glue.wait_for(lambda: crawl._status == "STOPPING", timeout=5)


def test_a_rerun_after_the_crawl_failed_unwatched_starts_a_new_crawl(
    run: Any, glue: Any, glue_routine: Any, lake: Any
) -> None:
    path, crawl = _killed_while_crawling(run, glue, glue_routine, lake)
    crawler = glue.backend.crawlers["sales_crawler"]
    glue.fail_crawl(crawler, "FAILED", "Access denied")  # while no one was waiting

    glue.set_transition("glue::crawl", {"progression": "time", "seconds": 0.1})
    result = run(path)
    assert result.status == "succeeded", result.tasks[0].error
    first, second = crawler.crawls
    assert first is crawl and second.status == "COMPLETED"
    assert result.tasks[0].output["joined_running_crawl"] is False


def test_a_crawl_that_ended_as_the_task_timed_out_is_re_attached_not_run_again(
    run: Any, glue: Any, glue_routine: Any
) -> None:
    glue.set_transition("glue::crawl", {"progression": "manual", "times": 100000})
    assert run(glue_routine([_crawler()])).status == "succeeded"
    looks = glue.count("get_crawler")
    glue.when(  # the crawl completes while the task sleeps between two polls
        lambda: len(looks) >= 2 and glue.backend.crawlers["sales_crawler"].crawls,
        lambda crawls: setattr(crawls[0], "status", "COMPLETED"),
    )
    # the timeout falls in the 30 s sleep between two polls, well after the crawl started
    routine = glue_routine([{**_crawl(), "timeout_s": 4}], poll_interval_s=30)
    assert "did not finish within 4 s" in run(routine).tasks[0].error
    (crawl,) = glue.backend.crawlers["sales_crawler"].crawls

    glue.set_transition("glue::crawl", {"progression": "immediate"})
    # the same task (its state key ignores timeout_s), given time for a loaded machine
    result = run(glue_routine([{**_crawl(), "timeout_s": 60}], poll_interval_s=30))
    assert result.status == "succeeded", result.tasks[0].error
    assert glue.backend.crawlers["sales_crawler"].crawls == [crawl]  # not crawled again
    assert result.tasks[0].output["last_crawl_status"] == "SUCCEEDED"
