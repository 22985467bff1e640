"""The whole AWS lake routine of ``examples/aws/`` against moto: land CSV in S3, stage to
Parquet, register the table and partition in Glue, query with Athena, COPY into Redshift,
run a Glue job; then a rerun that changes nothing twice."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws"

pytest.importorskip("lakeroutine_s3", reason="the example stages on S3: needs lakeroutine-s3")
pytest.importorskip("lakeroutine_athena", reason="the example queries Athena: lakeroutine-athena")
pytest.importorskip("pyarrow", reason="staging to Parquet needs pyarrow")


def _load(name: str) -> Any:
    """A module of the example by file (quickstart has its own land_files.py)."""
    spec = importlib.util.spec_from_file_location(f"aws_example_{name}", EXAMPLE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def example(moto_endpoint: str) -> Any:
    """The example's own helpers: land_files and local_emulator."""
    return _load("land_files"), _load("local_emulator")


def _objects(s3: Any, prefix: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket="lake", Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket="lake", Key=o["Key"])["Body"].read() for o in listed}


def test_the_whole_lake_routine(example: Any, run: Any, tmp_path: Path, monkeypatch: Any) -> None:
    import boto3
    import pyarrow.parquet as pq
    import sqlglot
    from moto.athena.models import athena_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    land_files, local_emulator = example
    monkeypatch.setenv("LAKEROUTINE_STATE_DIR", str(tmp_path / "state"))
    landed = land_files.land("lake", files=3, rows=40, seed=7)
    with local_emulator.redshift_data() as redshift:
        result = run(EXAMPLE / "routine.json", vars={"poll_s": 0.01})
    assert result.status == "succeeded", [(t.executor, t.task, t.error) for t in result.tasks]
    day = result.run_id[:8]
    day = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    outputs = {(t.executor, t.task): t.output for t in result.tasks}

    # Staged to Parquet under the day's partition folder; landing archived.
    s3 = boto3.client("s3")
    staged = _objects(s3, f"staging/sales/dt={day}/")
    assert len(staged) == len(landed) and all(k.endswith(".parquet") for k in staged)
    tables = [pq.read_table(io.BytesIO(body)) for body in staged.values()]
    assert sum(t.num_rows for t in tables) == 120
    assert tables[0].column_names == ["order_id", "name", "age", "job", "amount"]
    assert _objects(s3, "landing/sales/") == {}
    assert len(_objects(s3, "landing/sales_archive/")) == 3

    # The catalog table's partition points at exactly that folder.
    glue = boto3.client("glue")
    table = glue.get_table(DatabaseName="lake", Name="sales")["Table"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == tables[0].column_names
    (partition,) = glue.get_partitions(DatabaseName="lake", TableName="sales")["Partitions"]
    assert partition["Values"] == [day]
    assert partition["StorageDescriptor"]["Location"] == f"s3://lake/staging/sales/dt={day}/"

    # Athena ran the query on the table, with the day as a parameter.
    query_id = outputs["athena", "run_query"]["query_execution_id"]
    execution = athena_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].executions[query_id]
    assert "FROM sales WHERE dt = ?" in execution.query
    assert execution.execution_parameters == [f"'{day}'"]

    # Redshift: schema, table, then the upsert COPY of the staged folder; all valid SQL.
    sent = redshift.sql
    assert len(sent) == 8  # schema, table, work table (drop, create, COPY), swap (3 in one)
    assert len(redshift.statements) == 6
    for sql in sent:
        sqlglot.parse_one(sql, read="redshift")
    copy = next(sql for sql in sent if sql.startswith("COPY"))
    assert f"FROM 's3://lake/staging/sales/dt={day}/'" in copy
    assert "FORMAT AS PARQUET" in copy
    assert outputs["warehouse", "copy_from_s3"]["mode"] == "upsert"
    assert outputs["warehouse", "copy_from_s3"]["rows_loaded"] == 120

    # The Glue job ran with the day and its default arguments.
    (job_run,) = glue.get_job_runs(JobName="sales_summary")["JobRuns"]
    assert job_run["JobRunState"] == "SUCCEEDED"
    assert job_run["Arguments"]["--day"] == day
    assert job_run["Arguments"]["--output"] == "s3://lake/summaries/sales/"
    assert outputs["glue_job", "start_job"]["run_id"] == job_run["Id"]

    # A rerun with nothing new landed changes nothing twice.
    with local_emulator.redshift_data():
        again = run(EXAMPLE / "routine.json", vars={"poll_s": 0.01})
    assert again.status == "succeeded", [(t.executor, t.task, t.error) for t in again.tasks]
    outputs = {(t.executor, t.task): t.output for t in again.tasks}
    assert outputs["catalog", "create_table"]["action"] == "skipped"
    assert outputs["catalog", "add_partitions"]["already_existed"] == 1
    assert outputs["glue_job", "create_or_update_job"]["action"] == "skipped"
    assert len(_objects(s3, f"staging/sales/dt={day}/")) == 3


@pytest.mark.slow
def test_the_readme_command_runs_the_example(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    personal = {"AWS_PROFILE": "someone-elses-profile", "AWS_CONFIG_FILE": str(tmp_path / "x")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE / "run_local.py"), "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **personal},  # a user's own AWS settings do not get in the way
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(report.read_text())
    assert result["status"] == "succeeded"
    assert [t["executor"] for t in result["tasks"]][-1] == "glue_job"
    assert all(t["status"] == "succeeded" for t in result["tasks"])


def test_validating_the_example_loads_no_aws_sdk() -> None:
    code = (
        "import sys; from lakeroutine.cli import main; "
        f"assert main(['validate', {str(EXAMPLE / 'routine.json')!r}, '--offline']) == 0; "
        "print(sorted(m for m in ('boto3', 'botocore', 'pyarrow', 'moto') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
