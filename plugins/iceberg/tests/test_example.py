"""The Iceberg example runs as its README says, twice (a second day appends only its own
files), from a copy of the example folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "iceberg"


def test_the_iceberg_example_runs_twice(tmp_path: Path) -> None:
    folder = tmp_path / "iceberg"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("lake", "*.json.bak"))
    totals = []
    for day in (1, 2):
        landed = subprocess.run([sys.executable, str(folder / "land_files.py")])
        assert landed.returncode == 0
        report = tmp_path / f"report{day}.json"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "lakeroutine.cli",
                "-q",
                "run",
                str(folder / "routine.json"),
                "--report",
                str(report),
            ],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        tasks = {t["task"]: t for t in json.loads(report.read_text())["tasks"]}
        preview = tasks["iceberg_query"]["output"]["preview"]
        totals.append(sum(row["sales"] for row in preview))
        assert tasks["iceberg_append"]["output"]["files_already_in"] == 3 * (day - 1)
    assert totals == [150, 300]  # each landed row once
