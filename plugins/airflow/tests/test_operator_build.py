"""``routine_dag`` builds its operators the cheap way (``RoutineStepOperator.for_step``, edges
set directly): what it builds must be what the public constructor and ``>>`` build, so the
DAG processor serialises the same DAG and the task runs the same."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from lr_airflow_routines import duckdb_routine, query, write

INIT_KWARGS = "_BaseOperator__init_kwargs"  # the arguments as passed: for task.map only


def routine(tmp_path: Path) -> Path:
    tasks = ("create_database", query("SELECT 1"), query("SELECT 2", retries=3, retry_delay_s=7))
    return write(tmp_path, duckdb_routine(tmp_path, *tasks))


def by_hand(dag_id: str, path: Path, built: Any, vars: dict[str, Any], **dag_kwargs: Any) -> Any:
    """The DAG ``built`` rebuilt with the public constructors and ``>>``, from the values
    routine_dag gave its tasks."""
    from airflow.sdk import DAG
    from lakeroutine_airflow import RoutineReportOperator, RoutineStepOperator

    with DAG(dag_id, **dag_kwargs) as dag:
        previous = None
        for task in built.tasks:
            if isinstance(task, RoutineStepOperator):
                task = RoutineStepOperator(
                    task_id=task.task_id,
                    routine_path=str(path),
                    step_id=task.step_id,
                    routine_vars=vars,
                    deferrable=task.deferrable,
                    report_check=task.report_check,
                    step_digest=task.step_digest,
                    routine_tag=task.routine_tag,
                    retries=task.retries,
                    retry_delay=task.retry_delay,
                    doc_md=task.doc_md,
                )
            else:
                task = RoutineReportOperator(
                    task_id=task.task_id,
                    routine_path=task.routine_path,
                    routine_name=task.routine_name,
                    steps=task.steps,
                    report=task.report,
                )
            if previous is not None:
                previous >> task
            previous = task
    return dag


def serialised(dag: Any) -> dict[str, Any]:
    """The DAG as Airflow's DAG processor stores it, but for the file that built it."""
    from airflow.serialization.serialized_objects import DagSerialization

    found = DagSerialization.to_dict(dag)
    found["dag"].pop("fileloc")  # routine_dag's module here: the DAG file's in a DagBag
    return found


def attributes(task: Any) -> dict[str, Any]:
    """Every attribute of a task, the objects it points back to by what they are."""
    found = {k: v for k, v in vars(task).items() if k not in ("_dag", "task_group", INIT_KWARGS)}
    found["_dag"], found["task_group"] = task.dag.dag_id, task.task_group.group_id
    return found


def test_the_processor_serialises_the_dag_built_by_hand(tmp_path: Path) -> None:
    from lakeroutine_airflow import routine_dag

    path = routine(tmp_path)
    vars = {"day": "{{ ds }}", "n": 3}
    dag_kwargs: dict[str, Any] = {
        "schedule": None,
        "default_args": {"owner": "lake", "pool_slots": 2, "execution_timeout": dt.timedelta(1)},
        "params": {"p": 1},
        "tags": ["lake"],
        "description": "DuckDB queries for the Airflow tests",
        "max_active_runs": 1,
        "start_date": dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc),
    }
    built = routine_dag(
        path, vars=vars, report="reports/{{ ds }}.json", deferrable=True, **dag_kwargs
    )
    dag_kwargs["tags"] = set(built.tags)  # with the routine's version, as routine_dag tags it
    hand = by_hand(built.dag_id, path, built, vars, **dag_kwargs)

    assert [t.task_id for t in built.tasks] == [
        "duck__create_database",
        "duck__run_query",
        "duck__run_query__2",
        "lakeroutine_report",
    ]
    assert serialised(built) == serialised(hand)
    for task in built.tasks:
        assert attributes(task) == attributes(hand.task_dict[task.task_id]), task.task_id


def test_a_task_group_with_an_xcom_in_its_vars_gets_the_upstream_the_constructor_gives(
    tmp_path: Path,
) -> None:
    """An XComArg among the vars makes its task upstream of every step, as the constructor's
    wrapper does; one assigned after building still does (the operator counts as built)."""
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG
    from lakeroutine_airflow import RoutineStepOperator, RoutineTaskGroup

    path = routine(tmp_path)
    with DAG("grouped", schedule=None, default_args={"queue": "lake"}) as dag:
        source = EmptyOperator(task_id="source")
        group = RoutineTaskGroup(path, vars={"table": source.output})
        alone = RoutineStepOperator(
            task_id="alone",
            routine_path=str(path),
            step_id="duck.run_query",
            routine_vars={"table": source.output},
        )
        later = EmptyOperator(task_id="later")
    steps = [dag.task_dict[f"duck.{slug}"] for slug in ("duck__create_database", "duck__run_query")]
    for task in (*steps, alone):
        assert source.task_id in task.upstream_task_ids, task.task_id
    assert steps[1].upstream_task_ids == {"source", "duck.duck__create_database"}
    assert attributes(steps[0]).keys() == attributes(alone).keys()
    assert list(group.get_roots()) == [steps[0]]

    for task in (steps[1], alone):
        task.routine_vars = {"table": later.output}  # BaseOperator.__setattr__ tracks it
        assert "later" in task.upstream_task_ids, task.task_id
