"""``routine_dag`` and ``RoutineTaskGroup``: a routine file rendered as Airflow tasks.

Building them loads the routine offline (``lakeroutine.load_routine``: names, params and
args validated; no preflight, no network; only the executor modules it uses imported), so
parsing the DAG file stays cheap. An invalid routine raises
:class:`lakeroutine.RoutineError` naming the file and the field: Airflow shows it as the DAG
file's import error.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, TaskGroup

from lakeroutine_airflow.naming import airflow_id, checked_id, parse_time_vars
from lakeroutine_airflow.operator import ROUTINE_TAG_PREFIX, RoutineStepOperator


def _resolve(path: str | Path, depth: int) -> Path:
    """``path`` made absolute; a relative one is taken from the folder of the DAG file that
    called us (Airflow parses DAG files from any working directory)."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    caller = sys._getframe(depth).f_globals.get("__file__")
    base = Path(caller).resolve().parent if caller else Path.cwd()
    return base / candidate


def _load(path: Path, vars: Mapping[str, Any] | None) -> tuple[str, str | None, list[Any]]:
    """The routine's name, description and steps. Validated offline once per exact input
    (``lakeroutine.parse_steps``: later parses of the same input read the steps from the
    file), except in a worker parsing the DAG file to run one of its tasks: that task
    validates the routine as it starts, so there the steps are only read from the file."""
    from airflow.sdk import get_parsing_context
    from lakeroutine.errors import LakeroutineError
    from lakeroutine.steps import read_data, steps_in

    try:
        data = read_data(path)
    except LakeroutineError:  # said again, in full, by validation below
        data = None
    name, description = _name_and_description(data)
    try:
        if get_parsing_context().task_id is not None and name:
            return name, description, steps_in(data, str(path.resolve()))
        from lakeroutine.parse_steps import parse_steps

        name, steps = parse_steps(path, parse_time_vars(vars))
        return name, description, steps
    except LakeroutineError as exc:  # one line naming the file and field, not our stack
        raise type(exc)(str(exc)) from None


def _name_and_description(data: Any) -> tuple[str | None, str | None]:
    """``routine_name`` and ``description`` as written (None where absent or not text)."""
    if not isinstance(data, dict):
        return None, None
    name, description = data.get("routine_name"), data.get("description")
    return (
        name if isinstance(name, str) and name else None,
        description if isinstance(description, str) else None,
    )


def _add_steps(
    dag: DAG | None,
    path: Path,
    steps: list[Any],
    vars: Mapping[str, Any] | None,
    deferrable: bool,
    report: str | None,
    routine_name: str,
) -> list[Any]:
    """One RoutineStepOperator per step, chained in routine order (plus the report task).
    The DAG is tagged with the routine's version (``lakeroutine:<12 hex>``): Airflow keeps
    the tags its DAG processor last read, which a worker reads back (see the operator)."""
    from lakeroutine.steps import routine_version

    routine_tag = f"{ROUTINE_TAG_PREFIX}{routine_version(steps)}"
    if dag is not None:
        dag.tags.add(routine_tag)
    tasks = []
    for step in steps:
        first = not tasks
        task = RoutineStepOperator.for_step(
            task_id=step.slug,
            routine_path=str(path),
            step_id=step.id,
            routine_vars=dict(vars or {}),
            deferrable=deferrable,
            report_check=report if first else None,
            step_digest=step.digest,
            routine_tag=routine_tag,
            retries=step.retries,
            retry_delay=dt.timedelta(seconds=step.retry_delay_s),
            doc_md=f"lakeroutine step `{step.id}` (`{step.executor}.{step.task}`)",
        )
        if tasks:
            _follow(tasks[-1], task)
        tasks.append(task)
    if report is not None:
        from lakeroutine_airflow.report import REPORT_TASK_ID, RoutineReportOperator

        collector = RoutineReportOperator(
            task_id=REPORT_TASK_ID,
            routine_path=str(path),
            routine_name=routine_name,
            steps={step.id: task.task_id for step, task in zip(steps, tasks, strict=True)},
            report=report,
        )
        if tasks:
            _follow(tasks[-1], collector)
        tasks.append(collector)
    return tasks


def _follow(upstream: Any, task: Any) -> None:
    """``upstream >> task`` for two tasks just built in one DAG: the two edges Airflow's
    ``>>`` records, without its checks that both are operators of one DAG (true here) and
    the DAG hashed twice per edge."""
    upstream.downstream_task_ids.add(task.node_id)
    task.upstream_task_ids.add(upstream.node_id)


def routine_dag(
    path: str | Path,
    *,
    dag_id: str | None = None,
    vars: Mapping[str, Any] | None = None,
    deferrable: bool = False,
    report: str | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """A DAG running the routine file ``path``, one task per routine task, in order.

    ``dag_id`` defaults to the routine's ``routine_name`` with every character Airflow
    refuses replaced by ``_`` (a ``dag_id`` given that Airflow refuses is a RoutineError
    naming it); ``dag_kwargs`` go to the DAG
    (``schedule``, ``start_date``, ``catchup``, ``tags``...; ``max_active_runs`` defaults to
    1: one run of a routine at a time, as its run state expects). ``vars`` values may be Airflow
    templates (``{"day": "{{ ds }}"}``), rendered when each task runs. ``deferrable``: long
    waits go to the triggerer. ``report``: also write the run's JSON report there (a path
    relative to the routine file, or a URI; may be templated) from a last task.
    """
    resolved = _resolve(path, 2)
    name, description, steps = _load(resolved, vars)
    if description and "description" not in dag_kwargs:
        dag_kwargs["description"] = description
    dag_kwargs.setdefault("max_active_runs", 1)  # one run of a routine at a time
    dag_id = checked_id(dag_id, "dag_id") if dag_id else airflow_id(name)
    with DAG(dag_id=dag_id, **dag_kwargs) as dag:
        _add_steps(dag, resolved, steps, vars, deferrable, report, name)
    return dag


class RoutineTaskGroup(TaskGroup):
    """The routine's tasks as a TaskGroup inside the DAG being defined, so a routine can sit
    after a sensor or before a report: ``sensor >> RoutineTaskGroup("routine.json")``."""

    def __init__(
        self,
        path: str | Path,
        *,
        group_id: str | None = None,
        vars: Mapping[str, Any] | None = None,
        deferrable: bool = False,
        report: str | None = None,
        **group_kwargs: Any,
    ) -> None:
        resolved = _resolve(path, 2)
        name, description, steps = _load(resolved, vars)
        if description and "tooltip" not in group_kwargs:
            group_kwargs["tooltip"] = description
        group_id = (
            checked_id(group_id, "group_id", group=True)
            if group_id
            else airflow_id(name, group=True)
        )
        super().__init__(group_id=group_id, **group_kwargs)
        with self:
            _add_steps(self.dag, resolved, steps, vars, deferrable, report, name)
