"""`lakeroutine run --report s3://...` (issue 18, point 2): the report goes to S3 through the
storage plugin, and a report URI that cannot be written stops the run before anything moves
(moto's server on loopback)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lakeroutine.cli import main


@pytest.fixture(autouse=True)
def _s3_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "s3")


def _routine(lake: Any) -> str:
    lake.write("a.csv", "1")
    spec = {
        "routine_name": "report_uri",
        "executors": {
            "StagingExecutor": {
                "params": {"parent_directory": "landing", "dump_directory": "staging"},
                "tasks": ["transfer"],
            }
        },
    }
    return str(lake.routine_file(spec))


def test_the_report_is_written_to_an_s3_uri(lake: Any, moto_endpoint: str, capsys: Any) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="reports")
    target = "s3://reports/runs/report.json"
    assert main(["run", _routine(lake), "--report", target]) == 0, capsys.readouterr().err
    report = json.loads(s3.get_object(Bucket="reports", Key="runs/report.json")["Body"].read())
    assert report["routine_name"] == "report_uri" and report["status"] == "succeeded"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="reports")["Contents"]]
    assert keys == ["runs/report.json"]  # the probe was removed
    assert not (lake.root / "s3:").exists()  # never taken for a local path


def test_a_report_uri_that_cannot_be_written_stops_the_run_before_anything_moves(
    lake: Any, moto_endpoint: str, capsys: Any
) -> None:
    target = "s3://no-such-bucket/report.json"
    assert main(["run", _routine(lake), "--report", target]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith(f"lakeroutine: error: --report {target}: cannot write")
    assert "started" not in err and "Traceback" not in err
    assert lake.files(lake.landing) == {"a.csv": b"1"} and not lake.staging.exists()
