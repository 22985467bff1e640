"""Honest outcomes under real Airflow (issue 18): a step refused by a preflight check says
refused, each task's log speaks of its step and the report task of the routine, a routine
name Airflow refuses as a dag_id is made valid, and a step id that came to name another task
in the middle of a run is refused."""

from __future__ import annotations

import datetime as dt
import json
import logging
import textwrap

from lr_airflow_routines import duckdb_routine, query, write

LOGICAL = dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.timezone.utc)


def dag_file(dag_files, path, dag_id: str | None, name: str, **kwargs) -> None:
    args = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    given = f"dag_id={dag_id!r}, " if dag_id else ""
    dag_files.write(
        name,
        f"""
        from lakeroutine_airflow import routine_dag

        dag = routine_dag({str(path)!r}, {given}schedule=None, {args})
        """,
    )


def task_lines(caplog, task_id: str) -> list[str]:
    """The log lines of one task of a dag.test() run (Airflow's and lakeroutine's)."""
    lines = [r.getMessage() for r in caplog.records]
    start = lines.index(f"[DAG TEST] starting task_id={task_id} map_index=-1")
    end = lines.index(f"[DAG TEST] end task task_id={task_id} map_index=-1")
    return lines[start:end]


def test_each_task_logs_its_step_and_the_report_task_the_routine(
    dag_files, tmp_path, caplog, capsys
):
    caplog.set_level(logging.INFO)
    path = write(tmp_path, duckdb_routine(tmp_path, query("SELECT 1"), query("SELECT 2")))
    dag_file(dag_files, path, "step_lines", "step_lines", report="report.json")
    dag_run = dag_files.test("step_lines", logical_date=LOGICAL)
    assert dag_run.state == "success"
    first = " | ".join(task_lines(caplog, "duck__run_query"))
    assert "step duck.run_query (routine duck) succeeded: 1 task: 1 succeeded in " in first
    assert "routine duck succeeded" not in first
    second = " | ".join(task_lines(caplog, "duck__run_query__2"))
    assert "step duck.run_query#2 (routine duck) succeeded: 1 task: 1 succeeded" in second
    shown = capsys.readouterr().out  # the report task's own log, as Airflow prints it
    assert "routine duck succeeded: 2 steps: 2 succeeded" in shown


def test_a_step_refused_by_a_preflight_check_never_says_succeeded(
    dag_files, tmp_path, caplog, capsys
):
    caplog.set_level(logging.INFO)
    routine = duckdb_routine(tmp_path, query("SELECT 1"))
    routine["executors"]["StagingExecutor"] = {
        "params": {"parent_directory": "landing/", "dump_directory": "staging/"},
        "tasks": ["transfer"],  # its landing folder does not exist: refused by preflight
    }
    path = write(tmp_path, routine)
    dag_file(dag_files, path, "refused_step", "refused_step")
    dag_run = dag_files.test("refused_step", logical_date=LOGICAL)
    assert dag_run.state == "failed"
    lines = " | ".join(task_lines(caplog, "StagingExecutor__transfer"))
    assert "step StagingExecutor.transfer (routine duck) refused before its first task" in lines
    assert "succeeded" not in lines
    shown = capsys.readouterr().out  # the task's failure, as Airflow prints it
    assert f"AirflowFailException: {path}, executor 'StagingExecutor'" in shown
    assert "landing does not exist" in shown


def test_a_routine_name_airflow_refuses_becomes_a_valid_dag_id(dag_files, tmp_path):
    path = write(tmp_path, duckdb_routine(tmp_path, query("SELECT 1"), name="sales daily (EU)"))
    dag_file(dag_files, path, None, "named")
    dag_run = dag_files.test("sales_daily__EU_", logical_date=LOGICAL)
    assert dag_run.state == "success"


def test_a_dag_id_airflow_refuses_is_one_error_naming_it(dag_files, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    path = write(tmp_path, duckdb_routine(tmp_path, query("SELECT 1")))
    dag_file(dag_files, path, "sales daily (EU)", "badly_named")
    bag = DagBag(dag_folder=str(dag_files.dags))
    (error,) = bag.import_errors.values()
    assert "dag_id 'sales daily (EU)': Airflow takes only letters, digits" in error
    assert "for example 'sales_daily__EU_'" in error


def test_a_step_whose_id_came_to_name_another_task_mid_run_is_refused(
    dag_files, tmp_path, caplog, capsys
):
    caplog.set_level(logging.INFO)
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "a.csv").write_text("x\n1\n")
    # the transformation stands for someone editing the routine file while a run is on:
    # it inserts a query before the two that share a name
    (tmp_path / "edit.py").write_text(
        textwrap.dedent(
            """
            import json, pathlib, shutil

            def f(source, target):
                shutil.copyfile(source, target)
                routine = pathlib.Path(__file__).with_name("routine.json")
                spec = json.loads(routine.read_text())
                inserted = {"task": "run_query", "args": {"sql": "SELECT 'inserted' AS q"}}
                spec["executors"]["duck"]["tasks"].insert(0, inserted)
                routine.write_text(json.dumps(spec))
            """
        )
    )
    queries = duckdb_routine(tmp_path, query("SELECT 'first' AS q"), query("SELECT 'second'"))
    routine = {
        **queries,
        "executors": {
            "StagingExecutor": {
                "params": {
                    "parent_directory": "landing/",
                    "dump_directory": "staging/",
                    "py_exec_path": "edit.py:f",
                },
                "tasks": ["transfer"],
            },
            **queries["executors"],
        },
    }
    path = write(tmp_path, routine)
    dag_file(dag_files, path, "edited", "edited")
    dag_run = dag_files.test("edited", logical_date=LOGICAL)
    assert dag_run.state == "failed"
    states = dag_files.task_instances(dag_run)
    assert states["StagingExecutor__transfer"][0] == "success"
    assert states["duck__run_query"] == ("failed", 1)  # no retry: the file must be put right
    assert states["duck__run_query__2"][0] == "upstream_failed"
    # dag.test() runs the DAG objects parsed before the run: the step's digest from parse time
    # refuses it (a worker re-parsing the DAG file is refused by the run state's record)
    shown = capsys.readouterr().out  # the task's failure, as Airflow prints it
    assert "step 'duck.run_query' now names another task than when the scheduler read" in shown
    assert "the task it named is now step 'duck.run_query#2'" in shown
    assert "inserted" not in json.dumps(dag_files.xcoms(dag_run))  # the inserted query never ran


def test_an_unwritable_report_stops_the_dag_run_before_its_first_step(dag_files, tmp_path, capsys):
    # /proc takes no new folder, even from root: only writing there tells
    path = write(tmp_path, duckdb_routine(tmp_path, "create_database", query("SELECT 1")))
    dag_file(dag_files, path, "bad_report", "bad_report", report="/proc/no/such/report.json")
    dag_run = dag_files.test("bad_report", logical_date=LOGICAL)
    assert dag_run.state == "failed"
    states = dag_files.task_instances(dag_run)
    assert states["duck__create_database"] == ("failed", 1)
    assert states["duck__run_query"][0] == "upstream_failed"
    assert not (tmp_path / "lake.duckdb").exists()  # nothing ran
    shown = capsys.readouterr().out  # the task's failure: the option the user set, and where
    dag_path = dag_files.dags / "bad_report.py"
    assert (
        f"routine_dag of DAG 'bad_report' ({dag_path}): report= /proc/no/such/report.json: "
        "cannot write a file there" in shown
    )
    assert "--report" not in shown


def test_an_unwritable_report_of_a_task_group_names_the_group(dag_files, tmp_path, capsys):
    path = write(tmp_path, duckdb_routine(tmp_path, "create_database", query("SELECT 1")))
    dag_path = dag_files.write(
        "grouped_report",
        f"""
        from airflow.sdk import DAG
        from lakeroutine_airflow import RoutineTaskGroup

        with DAG("grouped_report", schedule=None) as dag:
            RoutineTaskGroup({str(path)!r}, group_id="lake", report="/proc/no/such/r.json")
        """,
    )
    dag_run = dag_files.test("grouped_report", logical_date=LOGICAL)
    assert dag_run.state == "failed"
    assert dag_files.task_instances(dag_run)["lake.duck__create_database"] == ("failed", 1)
    assert not (tmp_path / "lake.duckdb").exists()  # nothing ran
    shown = capsys.readouterr().out
    assert (
        f"RoutineTaskGroup 'lake' in DAG 'grouped_report' ({dag_path}): "
        "report= /proc/no/such/r.json: cannot write a file there" in shown
    )


def test_a_task_that_refuses_its_args_against_the_table_is_not_retried(dag_files, tmp_path):
    """A task refused by what only the table shows (TaskRefused: exit 2 from the CLI) fails
    its Airflow task at once, whatever its retries: a retry would be refused the same way."""
    table = {
        "name": "events",
        "format": "iceberg",
        "columns": {"id": "bigint", "kind": "string"},
    }
    other = {**table, "columns": {"id": "bigint", "amount": "double"}}
    routine = duckdb_routine(
        tmp_path,
        {"task": "iceberg_create_table", "args": {"table": table}},
        {
            "task": "iceberg_create_table",
            "args": {"table": other, "if_exists": "skip"},
            "retries": 2,
            "retry_delay_s": 0,
        },
    )
    dag_file(dag_files, write(tmp_path, routine), "refused_args", "refused_args")
    dag_run = dag_files.test("refused_args", logical_date=LOGICAL)
    states = dag_files.task_instances(dag_run)
    assert dag_run.state == "failed"
    assert states["duck__iceberg_create_table"][0] == "success"
    assert states["duck__iceberg_create_table__2"] == ("failed", 1)  # one try, no retry
