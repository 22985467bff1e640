"""A routine file edited after Airflow parsed the DAG but before the run: a step whose id now
names another task (one inserted before a duplicate ``#n``) refuses and runs nothing."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import duckdb
from lr_airflow_routines import duckdb_routine, query, write
from test_dag_run import dag_file

LOGICAL = dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.timezone.utc)


def tables(folder: Path) -> set[str]:
    database = folder / "lake.duckdb"
    if not database.exists():
        return set()
    db = duckdb.connect(str(database), read_only=True)
    try:
        return {
            row[0]
            for row in db.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    finally:
        db.close()


def test_a_step_renamed_by_an_edit_after_parse_refuses(dag_files, tmp_path, capsys) -> None:
    first, second = query("CREATE TABLE a AS SELECT 1 AS x"), query("CREATE TABLE b AS SELECT 2")
    path = write(tmp_path, duckdb_routine(tmp_path, first, second))
    dag_file(dag_files, path, "edited_after_parse")
    dag = dag_files.load("edited_after_parse")  # the scheduler's view: a, then b

    inserted = query("CREATE TABLE inserted AS SELECT 3 AS x")
    write(tmp_path, duckdb_routine(tmp_path, inserted, first, second))  # ids now shifted
    dag_run = dag.test(logical_date=LOGICAL)

    assert dag_run.state == "failed"
    states = dag_files.task_instances(dag_run)
    assert states["duck__run_query"] == ("failed", 1)  # refused, not retried
    assert states["duck__run_query__2"][0] != "success"
    assert tables(tmp_path) == set()  # nothing ran: neither the inserted task nor a
    shown = capsys.readouterr().out  # the task's failure, as Airflow prints it
    assert "step 'duck.run_query' now names another task than when the scheduler read" in shown
    assert "it is now DuckDBExecutor.run_query at position 0" in shown
    assert "the task it named is now step 'duck.run_query#2'" in shown


def test_an_unchanged_routine_runs_with_its_digests(dag_files, tmp_path) -> None:
    path = write(tmp_path, duckdb_routine(tmp_path, query("CREATE TABLE a AS SELECT 1 AS x")))
    dag_file(dag_files, path, "unchanged_after_parse")
    dag = dag_files.load("unchanged_after_parse")
    assert dag.get_task("duck__run_query").step_digest  # carried from parse time
    assert dag.test(logical_date=LOGICAL).state == "success"
    assert tables(tmp_path) == {"a"}


# a worker's reading: the DAG file parsed from its bundle, without writing it to the database
WORKER = ("--bundle-name", "dags-folder")


def airflow_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """An Airflow command in its own process, on the tests' AIRFLOW_HOME."""
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args], capture_output=True, text=True, check=False
    )


def test_a_worker_reading_an_edited_file_refuses_what_the_scheduler_did_not_read(
    dag_files, tmp_path
) -> None:
    """A deployment: the DAG processor reads the DAG file (``dags reserialize``), the routine
    is edited, then a worker re-reads the DAG file to build its task (``tasks test``: the
    task built from the file as it is now, its task instance from what the scheduler
    holds). The worker's own reading agrees with the file, so only the version the
    processor recorded (the DAG's ``lakeroutine:`` tag) shows that ids moved."""
    first, second = query("CREATE TABLE a AS SELECT 1 AS x"), query("CREATE TABLE b AS SELECT 2")
    path = write(tmp_path, duckdb_routine(tmp_path, first, second))
    dag_file(dag_files, path, "edited_before_a_worker")
    parsed = airflow_cli("dags", "reserialize")
    assert parsed.returncode == 0, parsed.stderr

    inserted = query("CREATE TABLE inserted AS SELECT 3 AS x")
    write(tmp_path, duckdb_routine(tmp_path, inserted, first, second))  # ids now shifted
    refused = airflow_cli("tasks", "test", *WORKER, "edited_before_a_worker", "duck__run_query")
    shown = refused.stdout + refused.stderr
    assert "changed since Airflow's DAG processor last read it" in shown, shown
    assert "Refused, nothing run" in shown
    assert tables(tmp_path) == set()  # neither the inserted task nor a ran

    reread = airflow_cli("dags", "reserialize")  # the processor reads the file again
    assert reread.returncode == 0, reread.stderr
    ran = airflow_cli("tasks", "test", *WORKER, "edited_before_a_worker", "duck__run_query")
    assert "changed since Airflow's DAG processor" not in ran.stdout + ran.stderr
    assert tables(tmp_path) == {"inserted"}  # what the scheduler now shows ran
