"""Rendering: one Airflow task per routine task, chained in routine order, ids from the
core's step ids, retries from the routine, TaskGroups, and invalid routines as import
errors naming the file and the field."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lr_airflow_routines import duckdb_routine, query, write


def test_one_task_per_routine_task_chained_in_order(tmp_path: Path) -> None:
    from lakeroutine_airflow import routine_dag

    routine = duckdb_routine(
        tmp_path,
        "create_database",
        query("SELECT 1"),
        query("SELECT 2", retries=3, retry_delay_s=7),
        query("SELECT 3"),
    )
    routine["executors"]["StagingExecutor"] = {
        "params": {
            "parent_directory": "landing/",
            "dump_directory": "staging/",
            "archive_or_delete": "delete",
        },
        "tasks": ["transfer"],
    }
    dag = routine_dag(write(tmp_path, routine), schedule=None, tags=["lake"])
    ids = [
        "duck__create_database",
        "duck__run_query",
        "duck__run_query__2",
        "duck__run_query__3",
        "StagingExecutor__transfer",
    ]
    assert dag.dag_id == "duck" and dag.tags - {"lake"} == {dag.task_dict[ids[0]].routine_tag}
    assert re.fullmatch(r"lakeroutine:[0-9a-f]{12}", dag.task_dict[ids[0]].routine_tag)
    assert dag.description == "DuckDB queries for the Airflow tests"
    assert [t.task_id for t in dag.topological_sort()] == ids
    for upstream, downstream in itertools.pairwise(ids):
        assert dag.task_dict[downstream].upstream_task_ids == {upstream}
    steps = [dag.task_dict[i].step_id for i in ids]
    assert steps == [
        "duck.create_database",
        "duck.run_query",
        "duck.run_query#2",
        "duck.run_query#3",
        "StagingExecutor.transfer",
    ]
    retried = dag.task_dict["duck__run_query__2"]
    assert (retried.retries, retried.retry_delay) == (3, dt.timedelta(seconds=7))
    assert dag.task_dict["duck__run_query"].retries == 0


def test_a_task_group_sits_between_other_tasks(tmp_path: Path) -> None:
    from airflow.sdk import DAG
    from lakeroutine_airflow import RoutineStepOperator, RoutineTaskGroup

    path = write(tmp_path, duckdb_routine(tmp_path, query("SELECT 1"), query("SELECT 2")))
    with DAG("outer", schedule=None) as dag:
        before = RoutineStepOperator(
            task_id="before", routine_path=str(path), step_id="duck.run_query"
        )
        group = RoutineTaskGroup(path, vars={"day": "{{ ds }}"})
        after = RoutineStepOperator(
            task_id="after", routine_path=str(path), step_id="duck.run_query"
        )
        before >> group >> after
    assert group.group_id == "duck"
    assert dag.task_dict["duck.duck__run_query"].upstream_task_ids == {"before"}
    assert dag.task_dict["duck.duck__run_query__2"].upstream_task_ids == {"duck.duck__run_query"}
    assert dag.task_dict["after"].upstream_task_ids == {"duck.duck__run_query__2"}
    assert dag.task_dict["duck.duck__run_query"].routine_vars == {"day": "{{ ds }}"}


def test_an_invalid_routine_is_the_dag_files_import_error(airflow_db: Path, tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    routine = duckdb_routine(
        tmp_path, {"task": "run_query", "args": {"sql": "SELECT 1", "rows": 3}}
    )
    path = write(tmp_path, routine)
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "broken.py").write_text(
        f"from lakeroutine_airflow import routine_dag\ndag = routine_dag({str(path)!r})\n"
    )
    bag = DagBag(dag_folder=str(folder))
    assert bag.dags == {}
    (error,) = bag.import_errors.values()
    last = error.strip().splitlines()[-1]
    assert last == (
        f"lakeroutine.errors.RoutineError: {path}, executor 'duck', task 'run_query', "
        "field 'args': unknown field 'rows' (did you mean 'vars'?)"
    )


def test_vars_templates_render_at_parse_with_a_stand_in_date(tmp_path: Path) -> None:
    from lakeroutine_airflow.naming import parse_time_vars

    rendered = parse_time_vars({"day": "{{ ds }}", "n": 3, "tag": "x-{{ ds_nodash }}"})
    assert dt.date.fromisoformat(rendered["day"]) and rendered["n"] == 3
    assert rendered["tag"] == "x-" + rendered["day"].replace("-", "")


def test_parsing_imports_no_aws_arrow_or_duckdb_library(tmp_path: Path) -> None:
    quickstart = Path(__file__).parents[3] / "examples" / "quickstart" / "routine.json"
    athena = {
        "executor": "AthenaExecutor",
        "params": {"database": "lake", "output_location": "s3://results/athena/"},
        "tasks": [{"task": "run_query", "args": {"sql": "SELECT 1"}}],
    }
    routine = json.loads(quickstart.read_text())
    routine["executors"]["athena"] = athena
    path = write(tmp_path, routine)
    script = (
        "import sys\n"
        "from lakeroutine_airflow import routine_dag\n"
        f"dag = routine_dag({str(path)!r})\n"
        "print(len(dag.task_dict), sorted({m.split('.')[0] for m in sys.modules} & "
        "{'boto3', 'botocore', 'pyarrow', 'duckdb', 'pandas'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "5 []"


@pytest.mark.parametrize(
    ("airflow_run_id", "expected"),
    [
        ("manual__2026-11-01T06:00:00+00:00", "manual__2026-11-01T06-00-00+00-00"),
        (
            "scheduled__2026-11-01T00:00:00.123456+00:00",
            "scheduled__2026-11-01T00-00-00.123456+00-00",
        ),
        ("my run/with spaces", "my-run-with-spaces"),
    ],
)
def test_the_lakeroutine_run_id_is_the_dag_runs_made_safe(airflow_run_id, expected) -> None:
    from lakeroutine_airflow.naming import lakeroutine_run_id

    assert lakeroutine_run_id(airflow_run_id) == expected
    long = lakeroutine_run_id("x" * 300)
    assert len(long) == 200 and long != lakeroutine_run_id("x" * 301)


def test_a_worker_parsing_for_one_task_reads_the_steps_without_validating(tmp_path: Path) -> None:
    import os

    from lakeroutine_airflow import routine_dag

    path = write(
        tmp_path, duckdb_routine(tmp_path, query("SELECT 1"), query("SELECT 2", retries=2))
    )
    validated = routine_dag(path, schedule=None)
    script = (
        "import json, sys\n"
        "from lakeroutine_airflow import routine_dag\n"
        f"dag = routine_dag({str(path)!r}, schedule=None)\n"
        "loaded = [m for m in ('lakeroutine.plugins', 'lakeroutine.routine') if m in sys.modules]\n"
        "tasks = {t.task_id: [t.step_id, t.retries] for t in dag.tasks}\n"
        "print(json.dumps([dag.dag_id, tasks, loaded]))\n"
    )
    env = {
        **os.environ,
        "_AIRFLOW_PARSING_CONTEXT_DAG_ID": "duck",
        "_AIRFLOW_PARSING_CONTEXT_TASK_ID": "duck__run_query",
    }
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    dag_id, tasks, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert dag_id == validated.dag_id and loaded == []
    assert tasks == {t.task_id: [t.step_id, t.retries] for t in validated.tasks}


def test_lakeroutine_itself_never_imports_airflow() -> None:
    script = (
        "import sys\n"
        "from importlib import metadata\n"
        "from lakeroutine.cli import main\n"
        "main(['plugins', '--json'])\n"
        "ours = [ep.name for ep in metadata.entry_points(group='lakeroutine') "
        "if ep.dist.metadata['Name'] == 'lakeroutine-airflow']\n"
        "print('RESULT', 'airflow' in sys.modules, ours)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "RESULT False []"
    assert metadata_version("lakeroutine-airflow")  # installed, yet not loaded by lakeroutine


def metadata_version(name: str) -> str:
    from importlib import metadata

    return metadata.version(name)
