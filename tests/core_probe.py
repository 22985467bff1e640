"""A throwaway plugin for the core's tests: an executor whose tasks succeed, fail, retry,
wait or echo their args, and a lifecycle observer that records what happened."""

from __future__ import annotations

import logging
import threading
from typing import Any

from lakeroutine import hookimpl
from lakeroutine.context import TaskContext
from lakeroutine.errors import RoutineError, TaskError, TaskRefused
from lakeroutine.executor import Executor, Params, task
from lakeroutine.waiting import poll
from pydantic import Field, SecretStr


class ProbeParams(Params):
    label: str = "probe"
    fail_times: int = Field(0, ge=0)
    password: SecretStr | None = None
    preflight_fails: bool = False


class JobArgs(Params):
    jobs: int = Field(1, ge=1)
    max_wait_s: float = 30.0


class EchoArgs(Params):
    message: str
    count: int = 1


class ProbeExecutor(Executor):
    """Records every task it runs in ``calls`` (shared by all instances)."""

    name = "ProbeExecutor"
    Params = ProbeParams
    calls: list[str] = []
    attempts: dict[str, int] = {}
    lock = threading.Lock()
    running: dict[str, str] = {}  # job id -> RUNNING, SUCCEEDED or STOPPED (remote work)
    started: list[str] = []  # job ids, in the order they were started

    def preflight(self, tasks: list[str]) -> None:
        if self.params.preflight_fails:
            raise RoutineError("preflight failed on purpose")

    def _record(self, name: str) -> None:
        with self.lock:
            self.calls.append(f"{self.params.label}.{name}")

    @task
    def noop(self) -> None:
        """Do nothing."""

    @task
    def ok(self) -> dict[str, Any]:
        """Succeed, saying which instance ran."""
        self._record("ok")
        return {"label": self.params.label}

    @task
    def fail(self) -> None:
        """Always fail."""
        self._record("fail")
        password = self.params.password.get_secret_value() if self.params.password else ""
        raise TaskError(f"failed on purpose (password was {password})")

    @task
    def refuse(self) -> None:
        """Refuse its args against what exists (TaskRefused), changing nothing."""
        self._record("refuse")
        raise TaskRefused("the table exists with another schema", field="args.table")

    @task
    def flaky(self, ctx: TaskContext) -> dict[str, int]:
        """Fail the first ``fail_times`` attempts of this run, then succeed."""
        self._record("flaky")
        key = f"{ctx.run_id}:{self.params.label}"
        with self.lock:
            self.attempts[key] = self.attempts.get(key, 0) + 1
            seen = self.attempts[key]
        if seen <= self.params.fail_times:
            raise RuntimeError(f"attempt {seen} failed")
        return {"attempts": seen}

    @task
    def wait(self, ctx: TaskContext) -> None:
        """Wait (cancellably) for a long time, registering a cancel callback."""
        self._record("wait")
        ctx.on_cancel(self._cancelled)
        for _ in range(1000):
            ctx.sleep(0.01)

    @task(args=JobArgs)
    def job(self, args: JobArgs, ctx: TaskContext) -> dict[str, Any]:
        """Start ``jobs`` remote jobs one after the other (each id saved in the run state
        first, re-attached to by a retry) and wait for each through lakeroutine.waiting; a
        job that ended in an earlier try is not waited for again."""
        done = []
        for number in range(args.jobs):
            finished = ctx.state.get(f"done{number}")
            if finished is not None:  # ended in an earlier try: no wait (as Redshift does)
                done.append(finished)
                continue
            job_id = ctx.state.get(f"job{number}")
            if job_id is None:
                job_id = f"{ctx.run_id}-{self.params.label}-{number}-{len(self.started)}"
                ctx.state.set(f"job{number}", job_id)
                self.started.append(job_id)
                self.running[job_id] = "RUNNING"

            def look(job_id: str = job_id) -> str | None:
                state = self.running[job_id]
                return None if state == "RUNNING" else state

            def stop(job_id: str = job_id) -> bool:
                self.running[job_id] = "STOPPED"
                return True

            outcome = poll(
                ctx,
                look,
                what=f"job {job_id}",
                interval_s=0.01,
                max_wait_s=args.max_wait_s,
                give_up=stop,
            )
            done.append([job_id, outcome])
            ctx.state.set(f"done{number}", [job_id, outcome])
        return {"jobs": done}

    def _cancelled(self) -> None:
        self._record("cancelled")
        logging.getLogger("lakeroutine.probe").warning(
            "cancel callback of %s ran", self.params.label
        )

    @task(args=EchoArgs)
    def echo(self, args: EchoArgs) -> dict[str, Any]:
        """Return the args it was given."""
        self._record("echo")
        return {"message": args.message * args.count}

    def _private(self) -> None:  # never callable from a routine
        self._record("private")


class Observer:
    """Records lifecycle hook calls."""

    def __init__(self) -> None:
        self.events: list[str] = []

    @hookimpl
    def routine_started(self, routine: Any, run_id: str) -> None:
        self.events.append(f"routine_started:{routine.name}")

    @hookimpl
    def routine_finished(self, routine: Any, result: Any) -> None:
        self.events.append(f"routine_finished:{result.status}")

    @hookimpl
    def task_started(self, ctx: TaskContext) -> None:
        self.events.append(f"task_started:{ctx.executor}.{ctx.task}")

    @hookimpl
    def task_finished(self, ctx: TaskContext, result: Any) -> None:
        self.events.append(f"task_finished:{ctx.executor}.{ctx.task}")

    @hookimpl
    def task_failed(self, ctx: TaskContext, error: BaseException, will_retry: bool) -> None:
        self.events.append(f"task_failed:{ctx.executor}.{ctx.task}:{will_retry}")


class ProbePlugin:
    @hookimpl
    def register_executors(self, register: Any) -> None:
        register(ProbeExecutor)


def probe_registry(*extra: Any) -> Any:
    from lakeroutine.plugins import load_plugins

    ProbeExecutor.calls.clear()
    ProbeExecutor.running.clear()
    ProbeExecutor.started.clear()
    return load_plugins(entry_points=False, plugins=[ProbePlugin(), *extra])


plugin = ProbePlugin()  # what the probe's entry point names


def install_probe_distribution(site: Any) -> None:
    """Make ``site`` (a folder put on PYTHONPATH) hold an installed distribution whose
    entry point registers the probe plugin, as pip would."""
    info = site / "lakeroutine_probe-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: lakeroutine-probe\nVersion: 0.0.1\n"
    )
    (info / "entry_points.txt").write_text("[lakeroutine]\nprobe = core_probe:plugin\n")
