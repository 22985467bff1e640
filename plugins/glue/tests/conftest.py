"""Configuring moto's Glue emulator from the test process.

moto lacks three Glue operations the executor uses (UpdateJob, UpdateCrawler,
BatchStopJobRun), accepts more than 100 partitions per BatchCreatePartition (AWS refuses),
never fails a job run and reports no ErrorMessage. ``GlueEmulator`` fills those gaps in the
EMULATOR only (moto's response class and backend objects), so our code runs unchanged over
real HTTP; it never touches lakeroutine's own code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

MAX_PARTITIONS_PER_BATCH = 100


def _update_job(self: Any) -> Any:
    from moto.core.responses import ActionResult

    name = self._get_param("JobName")
    update = self._get_param("JobUpdate")
    job = self.glue_backend.get_job(name)
    fields = {
        "Role": "role",
        "Command": "command",
        "DefaultArguments": "default_arguments",
        "GlueVersion": "glue_version",
        "WorkerType": "worker_type",
        "NumberOfWorkers": "number_of_workers",
        "MaxRetries": "max_retries",
        "Timeout": "timeout",
        "Description": "description",
        "ExecutionProperty": "execution_property",
    }
    for key, attr in fields.items():
        if key in update:
            setattr(job, attr, update[key])
    return ActionResult({"JobName": name})


def _update_crawler(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    crawler = self.glue_backend.get_crawler(self._get_param("Name"))
    fields = {
        "Role": "role",
        "DatabaseName": "database_name",
        "Targets": "targets",
        "TablePrefix": "table_prefix",
        "Schedule": "schedule",
        "Description": "description",
    }
    for key, attr in fields.items():
        if self._get_param(key) is not None:
            setattr(crawler, attr, self._get_param(key))
    crawler.version += 1
    return EmptyResult()


def _batch_stop_job_run(self: Any) -> Any:
    from moto.core.responses import ActionResult

    name = self._get_param("JobName")
    ids = self._get_param("JobRunIds")
    job = self.glue_backend.get_job(name)
    stopped, errors = [], []
    for job_run in job.job_runs:
        if job_run.job_run_id not in ids:
            continue
        if job_run.status in ("STARTING", "RUNNING", "WAITING"):
            job_run.status = "STOPPED"
            stopped.append({"JobName": name, "JobRunId": job_run.job_run_id})
        else:  # as Glue: a run that has ended is an error entry, the call still succeeds
            detail = {
                "ErrorCode": "InvalidInputException",
                "ErrorMessage": f"Job run {job_run.job_run_id} is {job_run.status}",
            }
            errors.append({"JobName": name, "JobRunId": job_run.job_run_id, "ErrorDetail": detail})
    return ActionResult({"SuccessfulSubmissions": stopped, "Errors": errors})


def fail_job_run(job_run: Any, state: str, message: str) -> None:
    """End a moto job run in ``state`` with Glue's ``ErrorMessage`` (moto's run has no such
    field, so the object becomes one that reports it)."""
    base = type(job_run)

    class FailedJobRun(base):  # type: ignore[misc, valid-type]
        def as_dict(self) -> dict[str, Any]:
            return {**super().as_dict(), "ErrorMessage": message}

    job_run.__class__ = FailedJobRun
    job_run.status = state


def fail_crawl(crawler: Any, status: str, message: str) -> None:
    """End a moto crawler's last crawl as Glue reports a failed one: ``LastCrawl`` with
    ``status`` (FAILED, CANCELLED) and ``ErrorMessage``; moto has neither, so the crawler
    object becomes one that reports them."""
    base = type(crawler)
    failed = crawler.crawls[-1]

    class FailedCrawler(base):  # type: ignore[misc, valid-type]
        def as_dict(self) -> dict[str, Any]:
            data = super().as_dict()
            if self.crawls[-1] is failed:  # a later crawl reports as moto does
                last = {**data["LastCrawl"], "Status": status, "ErrorMessage": message}
                data["LastCrawl"] = last
            return data

    crawler.__class__ = FailedCrawler
    failed.status = "FAILED"  # moto's own ended state: the crawler is READY


class GlueEmulator:
    """moto's Glue backend plus the missing operations, and helpers to drive runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.glue.models import glue_backends
        from moto.glue.responses import GlueResponse

        self.backend = glue_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        self._monkeypatch = monkeypatch
        self.partition_batches: list[int] = []
        original = GlueResponse.batch_create_partition

        def batch_create_partition(response: Any) -> Any:
            size = len(response._get_param("PartitionInputList"))
            self.partition_batches.append(size)
            if size > MAX_PARTITIONS_PER_BATCH:  # as AWS: at most 100 per call
                from moto.glue.exceptions import InvalidInputException

                raise InvalidInputException("BatchCreatePartition", "more than 100 partitions")
            return original(response)

        monkeypatch.setattr(GlueResponse, "batch_create_partition", batch_create_partition)
        monkeypatch.setattr(GlueResponse, "update_job", _update_job, raising=False)
        monkeypatch.setattr(GlueResponse, "update_crawler", _update_crawler, raising=False)
        monkeypatch.setattr(GlueResponse, "batch_stop_job_run", _batch_stop_job_run, raising=False)
        self._threads: list[tuple[threading.Thread, threading.Event]] = []

    fail_job_run = staticmethod(fail_job_run)
    fail_crawl = staticmethod(fail_crawl)

    def count(self, operation: str) -> list[float]:
        """A list that gets one entry (the time) each time the emulator answers
        ``operation`` (e.g. ``get_crawler``): how far a task has got."""
        from moto.glue.responses import GlueResponse

        original = getattr(GlueResponse, operation)
        calls: list[float] = []

        def counted(response: Any) -> Any:
            answer = original(response)
            calls.append(time.monotonic())
            return answer

        self._monkeypatch.setattr(GlueResponse, operation, counted)
        return calls

    def delay(self, operation: str, seconds: float) -> None:
        """Make the emulator answer ``operation`` (e.g. ``start_job_run``) ``seconds`` late:
        the request is handled at once, only the reply waits, as with a slow network."""
        from moto.glue.responses import GlueResponse

        original = getattr(GlueResponse, operation)

        def slow(response: Any) -> Any:
            answer = original(response)
            time.sleep(seconds)
            return answer

        self._monkeypatch.setattr(GlueResponse, operation, slow)

    @staticmethod
    def set_transition(model: str, transition: dict[str, Any]) -> None:
        from moto.moto_api import state_manager

        state_manager.set_transition(model, transition)

    def job_runs(self, name: str) -> list[Any]:
        return list(self.backend.jobs[name].job_runs) if name in self.backend.jobs else []

    def when(self, predicate: Callable[[], Any], action: Callable[[Any], None]) -> None:
        """In the background, as soon as ``predicate()`` returns something, act on it once."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(0.002):
                found = predicate()
                if found:
                    action(found)
                    return

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        self._threads.append((thread, stop))

    @staticmethod
    def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
        """The first truthy ``predicate()``, polled every 10 ms."""
        deadline = time.monotonic() + timeout
        while not (found := predicate()):
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.01)
        return found

    def close(self) -> None:
        from moto.moto_api import state_manager

        for thread, stop in self._threads:
            stop.set()
            thread.join(5)
        for model in ("glue::job_run", "glue::crawl"):
            state_manager.unset_transition(model)


@pytest.fixture
def glue(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[GlueEmulator]:
    emulator = GlueEmulator(monkeypatch)
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
def glue_client(moto_endpoint: str) -> Any:
    import boto3

    return boto3.client("glue", region_name="us-east-1")


@pytest.fixture
def glue_routine(tmp_path: Any) -> Callable[..., dict[str, Any]]:
    """``glue_routine(tasks, **params)``: one GlueExecutor block on database ``lake``,
    polling every 10 ms, keeping its run state in the test's folder."""

    def make(tasks: list[Any], **params: Any) -> dict[str, Any]:
        base = {"database": "lake", "poll_interval_s": 0.01, "max_wait_s": 30, **params}
        return {
            "routine_name": "glue_test",
            "state_dir": str(tmp_path / "state"),
            "executors": {
                "GlueExecutor": {
                    "params": {k: v for k, v in base.items() if v is not None},
                    "tasks": tasks,
                }
            },
        }

    return make
