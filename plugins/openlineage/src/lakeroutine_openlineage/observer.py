"""What the lifecycle hooks do: turn a routine run's tasks into OpenLineage events."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from lakeroutine.context import TaskCancelled
from lakeroutine.errors import LakeroutineError
from lakeroutine.redact import guard_loggers, mask
from openlineage.client.event_v2 import RunState

from lakeroutine_openlineage.emitter import (
    Emitter,
    RunChannel,
    config_key,
    configured,
    flush_timeout_s,
)
from lakeroutine_openlineage.events import TaskRun, job_namespace, run_uuid

if TYPE_CHECKING:
    from lakeroutine.context import TaskContext
    from lakeroutine.routine import Routine

AIRFLOW_DAG_ENV = "AIRFLOW_CTX_DAG_ID"  # set by Airflow's task runner for the running task
AIRFLOW_RUN_ENV = "AIRFLOW_CTX_DAG_RUN_ID"

_emitter = Emitter()
_channels: dict[int, RunChannel] = {}
_lock = threading.Lock()


def scheduler_root(namespace: str, env: Any = os.environ) -> tuple[str, str] | None:
    """Airflow's DAG run, when a step runs in an Airflow task: (job name, run id)."""
    dag_id, dag_run = env.get(AIRFLOW_DAG_ENV), env.get(AIRFLOW_RUN_ENV)
    if not dag_id or not dag_run:
        return None
    return dag_id, run_uuid(namespace, "airflow", dag_id, dag_run)


def start_run(routine: Routine, run_id: str) -> None:
    """A routine run begins: a channel for its events."""
    label = f"{routine.name} run {run_id}"
    channel = RunChannel(label, config_key(), routine_mask(routine), configured())
    guard_loggers(["openlineage"])  # the client logs whole events at DEBUG
    with _lock:
        _channels[id(routine)] = channel


def finish_run(routine: Routine) -> None:
    """A routine run ended: wait (bounded) for its events to be sent."""
    with _lock:
        channel = _channels.pop(id(routine), None)
    if channel is not None:
        _emitter.finish(channel, flush_timeout_s())


def task_event(
    routine: Routine,
    ctx: TaskContext,
    state: RunState,
    *,
    with_lineage: bool = False,
    error: str | None = None,
) -> None:
    """Send the task's event of ``state``."""
    channel = _channel(routine, ctx)
    if channel.broken:
        return
    step = ctx.step or f"{ctx.executor}.{ctx.task}"
    run = channel.runs.get(step)
    if run is None:
        namespace = job_namespace()
        root = scheduler_root(namespace)
        run = channel.runs[step] = TaskRun(
            routine.name, ctx.run_id, step, namespace=namespace, root=root
        )
    event = run.event(
        state,
        lineage=ctx.lineage if with_lineage else None,
        error=error,
        mask=lambda text: mask(ctx.run.redactor(text)),  # the run's secrets, and others known
    )
    _emitter.send(channel, event)


def task_failed(routine: Routine, ctx: TaskContext, error: BaseException, will_retry: bool) -> None:
    """FAIL (error masked) or, when the run was interrupted, ABORT; nothing if it retries."""
    if will_retry:
        return
    if isinstance(error, TaskCancelled):
        task_event(routine, ctx, RunState.ABORT, with_lineage=True)
        return
    text = describe_error(error)  # masked with the SQL, when the event is built
    task_event(routine, ctx, RunState.FAIL, with_lineage=True, error=text)


def describe_error(exc: BaseException) -> str:
    """The error as the run's report says it: lakeroutine's own as they are, others with
    their type."""
    return str(exc) if isinstance(exc, LakeroutineError) else f"{type(exc).__name__}: {exc}"


def routine_mask(routine: Routine) -> Any:
    """Masks the routine's secrets and every other one the process knows."""
    from lakeroutine.redact import Redactor

    own = Redactor(routine.secrets)
    return lambda text: mask(own(text))


def _channel(routine: Routine, ctx: TaskContext) -> RunChannel:
    with _lock:
        channel = _channels.get(id(routine))
        if channel is None:  # no routine_started seen (a caller of hooks of its own)
            label = f"{routine.name} run {ctx.run_id}"
            channel = _channels[id(routine)] = RunChannel(
                label, config_key(), routine_mask(routine), configured()
            )
        return channel
