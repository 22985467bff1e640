"""examples/airflow runs as its README says: ``airflow dags test`` over the quickstart DAG
file, in its own process (the documented command), with lakeroutine's log lines in each
task's log and the report written beside the routine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.mark.slow
def test_the_example_dag_runs_with_airflow_dags_test(airflow_db: Path, tmp_path: Path) -> None:
    for name in ("airflow", "quickstart"):
        shutil.copytree(EXAMPLES / name, tmp_path / name, ignore=shutil.ignore_patterns("lake"))
    quickstart = tmp_path / "quickstart"
    subprocess.run([sys.executable, str(quickstart / "land_files.py")], check=True)
    env = {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "airflow" / "dags")}
    airflow = [sys.executable, "-m", "airflow"]
    done = subprocess.run(
        [*airflow, "dags", "test", "quickstart_sales", "2026-11-01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "state=success" in log

    report = json.loads((quickstart / "lake" / "reports" / "run-2026-11-01.json").read_text())
    assert report["status"] == "succeeded"
    assert [t["step"] for t in report["tasks"]] == [
        "StagingExecutor.transfer",
        "StagingExecutor.post_staging",
        "sales_tables.create_table",
        "sales_tables.run_query",
    ]
    assert (
        (quickstart / "lake" / "reports" / "revenue_by_job.csv")
        .read_text()
        .startswith("job,sales,revenue\n")
    )
    task_log = log[log.index("starting task_id=sales_tables__run_query") :]
    task_log = task_log[: task_log.index("end task task_id=sales_tables__run_query")]
    assert "task sales_tables.run_query started [lakeroutine.run]" in task_log
