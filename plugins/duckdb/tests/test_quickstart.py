"""The quickstart's DuckDB block answers what the landed CSV files say."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[3] / "examples" / "quickstart"


def test_quickstart_query_matches_the_landed_data(tmp_path: Path) -> None:
    folder = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, folder, ignore=shutil.ignore_patterns("lake", "*.duckdb"))
    land = "import sys; sys.path.insert(0, '.'); from land_files import land; land(4, 30, seed=7)"
    subprocess.run([sys.executable, "-c", land], cwd=folder, check=True, timeout=60)
    expected: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for path in (folder / "lake" / "landing" / "sales").glob("*.csv"):
        with path.open() as handle:
            for row in csv.DictReader(handle):
                expected[row["column3"]][0] += 1
                expected[row["column3"]][1] += float(row["column4"])

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lakeroutine.cli",
            "run",
            str(folder / "routine.json"),
            "--report",
            str(tmp_path / "report.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    with (folder / "lake" / "reports" / "revenue_by_job.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["job"]: (int(r["sales"]), float(r["revenue"])) for r in rows} == {
        job: (count, round(total, 2)) for job, (count, total) in expected.items()
    }
    revenues = [float(r["revenue"]) for r in rows]
    assert revenues == sorted(revenues, reverse=True)
    report = json.loads((tmp_path / "report.json").read_text())
    query = next(t for t in report["tasks"] if t["task"] == "run_query")
    assert query["output"]["rows"] == len(expected) and query["output"]["columns"] == [
        "job",
        "sales",
        "revenue",
    ]
