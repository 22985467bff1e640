"""A routine file as Dagster definitions: one job, one op per routine task, chained in order.

Every op of the job is an invocation of one op definition (its compute function runs the step
the invocation is named after), so building the job costs one op definition whatever the
routine's size: loading definitions stays cheap for routines of hundreds of tasks.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import dagster as dg

from lakeroutine_dagster.loading import absolute, load_steps
from lakeroutine_dagster.step import DIGESTS_TAG, OUTPUT, RESOURCE, StepRunner, run_settings

if TYPE_CHECKING:
    from lakeroutine.plugins import Registry
    from lakeroutine.steps import StepInfo

AFTER = "after"
ROUTINE_TAG = "lakeroutine/routine"
NAME = re.compile(r"^[A-Za-z0-9_]+$")


def dagster_name(text: str) -> str:
    """``text`` with every character Dagster refuses in a name replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def routine_definitions(
    path: str | os.PathLike[str],
    *,
    vars: Mapping[str, Any] | None = None,
    job_name: str | None = None,
    schedule: str | None = None,
    registry: Registry | None = None,
    log_level: int = logging.INFO,
    **job_options: Any,
) -> dg.Definitions:
    """Dagster definitions of the routine file ``path``: a job named after its
    ``routine_name`` (or ``job_name``), one op per routine task, each after the one before.

    A relative ``path`` is taken from the calling file's folder. The routine is loaded
    offline (names, params and args validated; no preflight, no network; only the executors
    it uses are imported); an invalid routine raises :class:`lakeroutine.RoutineError`
    naming the file and the field. In a run or step worker, which rebuilds definitions
    Dagster loaded before, the steps are only read from the file: each op validates the
    routine as it starts.

    ``vars`` are the routine's variables (a run's config may add to them: ``resources:
    {lakeroutine: {config: {vars: {...}}}}``); ``schedule`` (a cron string) adds a schedule
    of the job; ``registry`` replaces the installed plugins (``lakeroutine.load_plugins``);
    ``log_level`` is the lowest level of lakeroutine's log lines sent to Dagster's event
    log; other keyword arguments go to ``GraphDefinition.to_job`` (``tags``,
    ``executor_def``, ``partitions_def``, ``description``, ``hooks``...).
    """
    routine_path = absolute(path, caller_depth=1)
    routine_name, steps = load_steps(routine_path, vars, registry)
    name = job_name or dagster_name(routine_name)
    if not NAME.fullmatch(name):
        raise ValueError(f"job_name {name!r}: use only letters, digits and '_'")
    runner = StepRunner(
        routine_path,
        dict(vars) if vars is not None else None,
        registry,
        log_level,
        {step.slug: step for step in steps},
    )
    op = dg.OpDefinition(
        name=f"{name}__lakeroutine_step",
        ins={AFTER: dg.In(dg.Nothing)},
        outs={OUTPUT: dg.Out(dg.Nothing)},
        compute_fn=runner,
        required_resource_keys={RESOURCE},
        description=f"Runs one task of lakeroutine routine {routine_name!r} ({routine_path}).",
        tags={"kind": "lakeroutine"},
    )
    graph = dg.GraphDefinition(
        name=name,
        node_defs=[op] if steps else [],  # an op not invoked would run once under its own name
        dependencies=_chain(op.name, steps),
        description=f"lakeroutine routine {routine_name!r} ({routine_path})",
    )
    job_options.setdefault("metadata", {})
    job_options["metadata"] = {"lakeroutine/routine": str(routine_path), **job_options["metadata"]}
    # Runs carry the routine's name: the run queue can then allow one run of it at a time
    # (tag_concurrency_limits on "lakeroutine/routine").
    # ... and what each step id named when definitions loaded: a run worker rebuilds them from
    # the file as it is then, so each op compares its task with the run's record.
    job_options["tags"] = {
        ROUTINE_TAG: routine_name,
        DIGESTS_TAG: json.dumps({step.id: step.digest for step in steps}),
        **(job_options.get("tags") or {}),
    }
    job_options["resource_defs"] = {
        RESOURCE: run_settings(),
        **job_options.get("resource_defs", {}),
    }
    job = graph.to_job(name=name, **job_options)
    schedules = [dg.ScheduleDefinition(job=job, cron_schedule=schedule)] if schedule else []
    return dg.Definitions(jobs=[job], schedules=schedules)


def _chain(
    op_name: str, steps: list[StepInfo]
) -> dict[dg.NodeInvocation, dict[str, dg.DependencyDefinition]]:
    """One invocation of the op per step, named by the step's slug, each after the last."""
    dependencies: dict[dg.NodeInvocation, dict[str, dg.DependencyDefinition]] = {}
    previous: str | None = None
    for step in steps:
        invocation = dg.NodeInvocation(
            op_name,
            alias=step.slug,
            tags={
                "lakeroutine/step": step.id,
                "lakeroutine/executor": step.executor,
                "lakeroutine/task": step.task,
            },
            retry_policy=_retry_policy(step),
        )
        dependencies[invocation] = (
            {AFTER: dg.DependencyDefinition(previous, OUTPUT)} if previous else {}
        )
        previous = step.slug
    return dependencies


def _retry_policy(step: StepInfo) -> dg.RetryPolicy | None:
    """The routine task's ``retries`` and ``retry_delay_s`` as Dagster's retry policy."""
    if not step.retries:
        return None
    return dg.RetryPolicy(max_retries=step.retries, delay=step.retry_delay_s or None)
