"""The examples run as documented: the notebook's routine verbatim and the quickstart."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

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
