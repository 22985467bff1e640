"""Glue jobs: create or (explicitly) update a definition; start a run and wait for it.

A run's id is saved in the task's state before polling, so a retried or rerun task
re-attaches to the run instead of starting another. Ctrl-C, a timeout or ``max_wait_s``
stop the run. Reports name the run id, its state, its duration and the log groups.
"""

from __future__ import annotations

import time
from typing import Any

from lakeroutine.aws import error_code
from lakeroutine.context import TaskContext
from lakeroutine.errors import TaskError
from lakeroutine.waiting import poll

from lakeroutine_glue.definitions import create_or_update
from lakeroutine_glue.models import CreateOrUpdateJobArgs, GlueParams, StartJobArgs

DEFAULT_LOG_GROUP = "/aws-glue/jobs"
JOB_RUN_FAILURES = frozenset({"FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED"})


def job_definition(args: CreateOrUpdateJobArgs) -> dict[str, Any]:
    """The fields of ``CreateJob`` (and ``JobUpdate``) for ``args``, without the name."""
    definition: dict[str, Any] = {
        "Role": args.role,
        "Command": {
            "Name": args.command,
            "ScriptLocation": args.script_location,
            "PythonVersion": args.python_version,
        },
        "GlueVersion": args.glue_version,
        "DefaultArguments": dict(args.default_arguments),
        "MaxRetries": args.max_retries,
    }
    optional = {
        "WorkerType": args.worker_type,
        "NumberOfWorkers": args.number_of_workers,
        "Timeout": args.timeout_minutes,
        "Description": args.description,
    }
    definition.update({k: v for k, v in optional.items() if v is not None})
    if args.max_concurrent_runs is not None:
        definition["ExecutionProperty"] = {"MaxConcurrentRuns": args.max_concurrent_runs}
    return definition


def _differences(existing: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Fields of ``wanted`` whose value the existing definition does not have. Command and
    ExecutionProperty are compared on the keys we set (Glue adds its own); arguments whole."""
    changed = []
    for key, value in wanted.items():
        current = existing.get(key)
        if key in ("Command", "ExecutionProperty") and isinstance(current, dict):
            if any(current.get(k) != v for k, v in value.items()):
                changed.append(key)
        elif current != value:
            changed.append(key)
    return changed


def create_or_update_job(
    client: Any, args: CreateOrUpdateJobArgs, ctx: TaskContext
) -> dict[str, Any]:
    """Create the job, or skip, update or refuse an existing one as ``args.if_exists`` says."""
    wanted = job_definition(args)
    return create_or_update(
        kind="Glue job",
        name=args.name,
        if_exists=args.if_exists,
        get=lambda: client.get_job(JobName=args.name)["Job"],
        create=lambda: client.create_job(Name=args.name, **wanted),
        update=lambda: client.update_job(JobName=args.name, JobUpdate=wanted),
        differences=lambda existing: _differences(existing, wanted),
        ctx=ctx,
    )


class JobRunner:
    """Starts (or re-attaches to) one run of a job and waits for it to end."""

    def __init__(
        self, client: Any, params: GlueParams, args: StartJobArgs, ctx: TaskContext
    ) -> None:
        self.client = client
        self.params = params
        self.args = args
        self.ctx = ctx
        self.run_id: str | None = None

    def run(self) -> dict[str, Any]:
        """Re-attach to this task's run or start one; wait for it unless told not to."""
        started = time.monotonic()
        self.ctx.on_cancel(self._stop)  # before starting: Ctrl-C may come at any instant
        self.run_id = self._attach() or self._recover() or self._start()
        if not self.args.wait:
            return self._report(self._describe(), time.monotonic() - started)
        what = f"Glue job {self.args.job_name!r} run {self.run_id}"
        final = poll(
            self.ctx,
            self._look,
            what=what,
            interval_s=self.params.poll_interval_s,
            max_wait_s=self.params.max_wait_s,
            give_up=self._stop,
        )
        state = final["JobRunState"]
        if state in JOB_RUN_FAILURES:
            self.ctx.state.delete("run_id")  # a retry starts a new run
            reason = final.get("ErrorMessage") or "no message from Glue"
            groups = _log_groups(final)
            raise TaskError(
                f"{what} {state}: {reason} (logs: {groups['error']}, stream {self.run_id})"
            )
        return self._report(final, time.monotonic() - started)

    def _attach(self) -> str | None:
        """The saved run of an earlier attempt, if Glue still knows it and it did not fail
        (a run that failed while no one waited is reported and started afresh)."""
        run_id = self.ctx.state.get("run_id")
        if not run_id:
            return None
        try:
            job_run = self.client.get_job_run(JobName=self.args.job_name, RunId=run_id)["JobRun"]
        except Exception as exc:
            if error_code(exc) != "EntityNotFoundException":
                raise
            self.ctx.state.delete("run_id")
            return None
        state = job_run.get("JobRunState")
        if state in JOB_RUN_FAILURES:
            self.ctx.logger.warning(
                "earlier Glue job run %s ended %s (%s); starting a new run",
                run_id,
                state,
                job_run.get("ErrorMessage") or "no message from Glue",
            )
            self.ctx.state.delete("run_id")
            return None
        self.ctx.logger.info("re-attaching to Glue job run %s (%s)", run_id, state)
        return str(run_id)

    def _recent_runs(self) -> list[dict[str, Any]]:
        """The job's latest runs, newest first."""
        try:
            response = self.client.get_job_runs(JobName=self.args.job_name, MaxResults=50)
        except Exception as exc:
            if error_code(exc) == "EntityNotFoundException":
                raise TaskError(f"Glue job {self.args.job_name!r} does not exist") from None
            raise
        return list(response.get("JobRuns", []))

    def _recover(self) -> str | None:
        """The run an earlier attempt started but was killed before saving its id (Glue
        takes no idempotency token): a live run of the job, with this task's arguments,
        that was not there before that start."""
        before = self.ctx.state.get("runs_before_start")
        if before is None:
            return None
        for job_run in self._recent_runs():
            arguments = job_run.get("Arguments") or {}
            if (
                job_run["Id"] not in before
                and job_run.get("JobRunState") not in JOB_RUN_FAILURES
                and all(arguments.get(k) == v for k, v in self.args.arguments.items())
            ):
                run_id = str(job_run["Id"])
                self.ctx.state.set("run_id", run_id)
                self.ctx.state.delete("runs_before_start")
                self.ctx.logger.info("re-attaching to Glue job run %s (its start was cut)", run_id)
                return run_id
        return None

    def _start(self) -> str:
        if self.ctx.state.get("runs_before_start") is None:  # saved before the call
            self.ctx.state.set("runs_before_start", [r["Id"] for r in self._recent_runs()])
        request: dict[str, Any] = {"JobName": self.args.job_name}
        if self.args.arguments:
            request["Arguments"] = dict(self.args.arguments)
        optional = {
            "WorkerType": self.args.worker_type,
            "NumberOfWorkers": self.args.number_of_workers,
            "Timeout": self.args.timeout_minutes,
        }
        request.update({k: v for k, v in optional.items() if v is not None})
        try:
            run_id = self.client.start_job_run(**request)["JobRunId"]
        except Exception as exc:
            code = error_code(exc)
            if code == "EntityNotFoundException":
                raise TaskError(f"Glue job {self.args.job_name!r} does not exist") from None
            if code == "ConcurrentRunsExceededException":
                raise TaskError(
                    f"Glue job {self.args.job_name!r} is already running as many runs as it "
                    "allows (max_concurrent_runs)"
                ) from None
            raise
        self.run_id = run_id
        self.ctx.state.set("run_id", run_id)
        self.ctx.state.delete("runs_before_start")
        self.ctx.logger.info("started Glue job %s run %s", self.args.job_name, run_id)
        if self.ctx.cancelled:  # cancelled while the start was in flight: no stop saw the id
            self._stop()
            self.ctx.check_cancelled()
        return str(run_id)

    def _describe(self) -> dict[str, Any]:
        response = self.client.get_job_run(JobName=self.args.job_name, RunId=self.run_id)
        return dict(response["JobRun"])

    def _look(self) -> dict[str, Any] | None:
        job_run = self._describe()
        state = job_run.get("JobRunState")
        if state == "SUCCEEDED" or state in JOB_RUN_FAILURES:
            return job_run
        self.ctx.logger.debug("Glue job run %s is %s", self.run_id, state)
        return None

    def _stop(self) -> bool:
        """Stop the run (Ctrl-C, timeout, max_wait_s); a later rerun starts afresh. A run
        Glue would not stop (it had just ended) keeps its id: a rerun re-attaches to it.
        False if there was nothing to stop or Glue refused."""
        if self.run_id is None:
            return False
        response = self.client.batch_stop_job_run(
            JobName=self.args.job_name, JobRunIds=[self.run_id]
        )
        errors = response.get("Errors", [])
        if errors:
            detail = errors[0].get("ErrorDetail", {})
            self.ctx.logger.warning(
                "could not stop Glue job run %s: %s %s",
                self.run_id,
                detail.get("ErrorCode", ""),
                detail.get("ErrorMessage", ""),
            )
            return False
        self.ctx.state.delete("run_id")
        self.ctx.logger.warning("stopped Glue job run %s", self.run_id)
        return True

    def _report(self, job_run: dict[str, Any], waited_s: float) -> dict[str, Any]:
        execution = job_run.get("ExecutionTime")
        groups = _log_groups(job_run)
        return {
            "job_name": self.args.job_name,
            "run_id": self.run_id,
            "state": job_run.get("JobRunState"),
            "attempt": job_run.get("Attempt", 0),
            "duration_s": execution if execution else round(waited_s, 3),
            "log_group_output": groups["output"],
            "log_group_error": groups["error"],
            "log_stream": self.run_id,
        }


def _log_groups(job_run: dict[str, Any]) -> dict[str, str]:
    group = job_run.get("LogGroupName") or DEFAULT_LOG_GROUP
    return {"output": f"{group}/output", "error": f"{group}/error"}
