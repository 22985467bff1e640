"""The quickstart routine (../../quickstart/routine.json) as an Airflow DAG, one Airflow
task per routine task: stage the landed sales files as Parquet, then query them with DuckDB.
A relative routine path is taken from this file's folder."""

import datetime as dt

from lakeroutine_airflow import routine_dag

dag = routine_dag(
    "../../quickstart/routine.json",
    schedule="@daily",
    start_date=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    tags=["lakeroutine", "quickstart"],
    report="lake/reports/run-{{ ds }}.json",  # relative to the routine file
)
