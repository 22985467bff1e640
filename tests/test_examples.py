"""The examples run as documented: the notebook's routine verbatim and the quickstart."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def lakeroutine(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lakeroutine.cli", *args], capture_output=True, text=True
    )


def test_the_notebook_routine_runs_verbatim(tmp_path):
    folder = tmp_path / "notebook"
    shutil.copytree(EXAMPLES / "notebook", folder, ignore=shutil.ignore_patterns("data"))
    landing = folder / "data" / "landing"
    landing.mkdir(parents=True)
    (landing / "people.csv").write_text("column1,column2,column3\nana,31,engineer\n")
    done = lakeroutine("run", str(folder / "routine_config.json"))
    assert done.returncode == 0, done.stderr
    staged = (folder / "data" / "staging" / "people.csv").read_text().splitlines()
    assert staged == ["name,age,job", "ana,31,engineer"]
    assert list(landing.iterdir()) == []  # "archive_or_delete": "delete"


def test_the_quickstart_runs(tmp_path):
    folder = tmp_path / "quickstart"
    shutil.copytree(
        EXAMPLES / "quickstart", folder, ignore=shutil.ignore_patterns("lake", "*.duckdb")
    )
    landed = subprocess.run([sys.executable, str(folder / "land_files.py")], capture_output=True)
    assert landed.returncode == 0
    report = tmp_path / "report.json"
    done = lakeroutine("run", str(folder / "routine.json"), "--report", str(report))
    assert done.returncode == 0, done.stderr
    result = json.loads(report.read_text())
    assert result["status"] == "succeeded"
    staged = sorted(p.name for p in (folder / "lake" / "staging" / "sales").iterdir())
    assert len(staged) == 3 and all(name.endswith(".parquet") for name in staged)
    assert len(list((folder / "lake" / "landing" / "sales_archive").iterdir())) == 3


def _script(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(path), *args], capture_output=True, text=True, timeout=180
    )


@pytest.mark.slow
def test_the_sftp_to_s3_local_script_runs_as_written(tmp_path):
    pytest.importorskip("lakeroutine_sftp")
    pytest.importorskip("lakeroutine_s3")
    report = tmp_path / "report.json"
    done = _script(EXAMPLES / "sftp-to-s3" / "run_local.py", "--report", str(report))
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(report.read_text())["status"] == "succeeded"
    assert "s3://lake/staging/partner/day1/a.csv:\nname,age,job\nann,31,cook\n" in done.stdout
    assert "archived on the SFTP server: /outgoing_archive/b.csv" in done.stdout
    assert "left in /outgoing/: notes.txt" in done.stdout
    assert "Warning" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_aws_local_script_reports_a_refused_run_and_its_exit_code(tmp_path):
    pytest.importorskip("lakeroutine_glue")
    done = _script(EXAMPLES / "aws" / "run_local.py", "--var", "bucket=no-such-bucket")
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "FileNotFoundError" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert "bucket 'no-such-bucket' does not exist" in lines[-2]
    assert lines[-2].startswith("lakeroutine: error: ")
    assert lines[-1] == "the routine did not run (exit 2): its error is above"
