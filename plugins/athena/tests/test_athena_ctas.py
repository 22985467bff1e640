"""Issue 21 point 4: a CTAS (Hive or Iceberg) writes only into an empty location, and what
a FAILED or CANCELLED CTAS wrote there is removed, so its retry can run. moto's Athena runs
no SQL and writes nothing: the emulator is driven to do what Athena does (objects appear
under the location while the query runs, then the query fails)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import boto3
import sqlglot
from lakeroutine.cli import main
from sqlglot import exp

LOCATION = "s3://lake/marts/daily/"
QUERY = "SELECT name, sum(amount) AS total, dt FROM sales GROUP BY name, dt"


def ctas(**args: Any) -> dict[str, Any]:
    return {"task": "ctas", "args": {"table": "daily", "sql": QUERY, "location": LOCATION, **args}}


def keys(prefix: str) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket="lake", Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


class WritesThenEnds:
    """Once the CTAS has started, put ``written`` under its location (as Athena's writers
    do), then end it in ``status`` with Athena's reason (or leave it running if None)."""

    def __init__(self, athena: Any, written: list[str], status: str | None, reason: str) -> None:
        self.athena, self.written, self.status, self.reason = athena, written, status, reason
        self.done = threading.Event()
        athena.transitions(10**6)  # queries stay QUEUED until this ends them
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        s3 = boto3.client("s3")
        while not self.done.wait(0.002):
            for execution in self.athena.executions:
                if execution.query.startswith("CREATE TABLE") and execution._status == "QUEUED":
                    for key in self.written:
                        s3.put_object(Bucket="lake", Key=key, Body=b"part")
                    if self.status is not None:
                        execution.state_change_reason = self.reason
                        execution.status = self.status
                    self.done.set()
                    return


def run_cli(athena: Any, tmp_path: Path, capsys: Any, *tasks: Any, **params: Any) -> tuple:
    path = tmp_path / "routine.json"
    path.write_text(json.dumps(athena.routine(*tasks, **params)))
    capsys.readouterr()
    code = main(["run", str(path)])
    return code, capsys.readouterr().err


def test_a_location_that_is_not_empty_is_refused_up_front(athena, tmp_path, capsys) -> None:
    boto3.client("s3").put_object(Bucket="lake", Key="marts/daily/old.parquet", Body=b"x")
    code, err = run_cli(athena, tmp_path, capsys, ctas(if_exists="replace"))
    assert code == 2
    assert "task 'ctas', field 'args.location'" in err and "is not empty" in err
    assert "marts/daily/old.parquet" in err
    assert athena.queries == []  # not even the DROP of if_exists: replace
    assert keys("marts/") == ["marts/daily/old.parquet"]


def test_a_failed_hive_ctas_leaves_nothing_and_its_retry_runs(athena, tmp_path, capsys) -> None:
    s3 = boto3.client("s3")
    s3.put_object(Bucket="lake", Key="marts/daily_other/keep.parquet", Body=b"x")  # beside
    written = [f"marts/daily/dt=2024-01-0{d}/part-{d}.parquet" for d in (1, 2, 3)]
    driver = WritesThenEnds(athena, written, "FAILED", "HIVE_BAD_DATA: Error parsing field")
    code, err = run_cli(athena, tmp_path, capsys, ctas(partitioned_by=["dt"]))
    assert driver.done.is_set() and code == 1
    assert "HIVE_BAD_DATA" in err and "removed the 3 object(s)" in err
    assert keys("marts/") == ["marts/daily_other/keep.parquet"]

    athena.close()  # queries succeed again: the rerun claims the (now empty) location
    code, err = run_cli(athena, tmp_path, capsys, ctas(partitioned_by=["dt"]))
    assert code == 0, err
    assert sum(q.startswith("CREATE TABLE") for q in athena.queries) == 2


def test_an_iceberg_ctas_and_its_failure(athena, tmp_path, capsys) -> None:
    written = ["marts/daily/data/00000-0.parquet", "marts/daily/metadata/00000.metadata.json"]
    driver = WritesThenEnds(athena, written, "FAILED", "ICEBERG_COMMIT_ERROR: commit failed")
    task = ctas(format="iceberg", partitioned_by=["day(dt)", "bucket(16, name)"])
    code, err = run_cli(athena, tmp_path, capsys, task)
    assert driver.done.is_set() and code == 1
    assert "removed the 2 object(s)" in err and keys("marts/") == []

    (create,) = athena.queries
    tree = sqlglot.parse_one(create, dialect="athena")
    assert isinstance(tree, exp.Create) and isinstance(tree.expression, exp.Select)
    text = create.replace("\n", " ")
    assert "table_type = 'ICEBERG'" in text and "is_external = false" in text
    assert f"location = '{LOCATION}'" in text and "external_location" not in text
    assert "partitioning = ARRAY['day(dt)', 'bucket(16, name)']" in text


def test_a_ctas_stopped_at_max_wait_is_cleaned_by_its_rerun(athena, tmp_path, capsys) -> None:
    """A CTAS that outlives ``max_wait_s`` is stopped, not cleaned (Athena may still be
    ending it); the rerun finds the location it claimed holding the leftovers, removes
    them, then runs the CTAS again."""
    written = ["marts/daily/part-0.parquet", "marts/daily/part-1.parquet"]
    driver = WritesThenEnds(athena, written, None, "")
    code, err = run_cli(athena, tmp_path, capsys, ctas(), max_wait_s=0.5)
    assert driver.done.is_set() and code == 1
    assert keys("marts/") == written

    athena.close()  # the same task (same params and args): its state holds the claim
    code, err = run_cli(athena, tmp_path, capsys, ctas(), max_wait_s=0.5)
    assert code == 0, err
    assert keys("marts/") == []  # moto wrote nothing for the new query; the old parts went


def test_iceberg_partitioning_takes_transforms_hive_takes_columns(tmp_path, capsys) -> None:
    routine = {
        "routine_name": "c",
        "executors": {
            "AthenaExecutor": {
                "params": {"database": "lake", "output_location": "s3://results/"},
                "tasks": [
                    ctas(partitioned_by=["day(dt)"]),
                    ctas(partitioned_by=["week(dt)"], format="iceberg"),
                ],
            }
        },
    }
    path = tmp_path / "r.json"
    path.write_text(json.dumps(routine))
    assert main(["validate", "--offline", str(path)]) == 2
    err = capsys.readouterr().err
    assert "field 'args.partitioned_by'" in err
    assert "'day(dt)'" in err and "unknown partition transform 'week'" in err


def test_a_ctas_killed_while_waiting_whose_query_then_failed(athena, tmp_path, capsys) -> None:
    """SIGKILL while the CTAS runs; Athena then fails it, leaving files. The rerun sees the
    saved query FAILED, removes what the claimed location holds and runs the CTAS anew."""
    import os
    import signal
    import subprocess
    import sys

    athena.transitions(10**6)
    path = tmp_path / "routine.json"
    path.write_text(json.dumps(athena.routine(ctas())))
    process = subprocess.Popen(
        [sys.executable, "-m", "lakeroutine.cli", "run", str(path)],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in process.stderr:  # the id is in its state once this is logged
            if "started Athena query" in line:
                break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()
    (query,) = athena.executions
    assert query.query.startswith("CREATE TABLE")
    boto3.client("s3").put_object(Bucket="lake", Key="marts/daily/part-0.parquet", Body=b"p")
    query.state_change_reason = "HIVE_WRITER_CLOSE_ERROR: writer failed"
    query.status = "FAILED"

    athena.close()
    code, err = run_cli(athena, tmp_path, capsys, ctas())
    assert code == 0, err
    assert "removed 1 object(s) a failed CTAS left" in err, err
    assert keys("marts/") == []
    assert sum(q.startswith("CREATE TABLE") for q in athena.queries) == 2
