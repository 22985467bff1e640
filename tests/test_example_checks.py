"""The checked quickstart runs as its README says: the drifting landing file is moved to
quarantine, refunds are quarantined by the check and the rest published and reported."""

from __future__ import annotations

import csv
import importlib.util
import shutil
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "quickstart-checks"


def test_the_checked_quickstart_quarantines_and_publishes(tmp_path: Path, run) -> None:
    duckdb = pytest.importorskip("duckdb")
    folder = tmp_path / "quickstart-checks"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("lake"))
    spec = importlib.util.spec_from_file_location("land_files", folder / "land_files.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.land(files=3, rows=50, refunds=2, drift=True, seed=7)

    result = run(folder / "routine.json")

    assert result.status == "succeeded", [t.error for t in result.tasks]
    transfer, _, _, checked, report = result.tasks
    [refused] = transfer.output["refused_files"]
    assert refused["reason"] == (
        "does not match expected_schema: missing column 'column4'; unexpected column 'total'; "
        "moved to quarantine"
    )
    assert [p.name for p in (folder / "lake" / "quarantine" / "files").iterdir()] == [
        refused["file"]
    ]
    outcomes = {o["check"]: o for o in checked.output["checks"]}
    assert outcomes["amount_positive"]["failing_rows"] == 6
    assert outcomes["amount_positive"]["status"] == "passed"  # 4 %, under 10 %
    assert checked.output["published"]["rows"] == 144
    assert checked.output["failed"] == 0
    con = duckdb.connect(str(folder / "lake" / "quickstart.duckdb"), read_only=True)
    held = con.execute("SELECT DISTINCT _check, _reason FROM sales_quarantine").fetchall()
    assert held == [("amount_positive", "amount is outside [0, +inf]")]
    assert con.execute("SELECT min(amount) > 0 FROM sales").fetchall() == [(True,)]
    con.close()
    with open(report.output["output"], newline="") as handle:
        assert sum(int(r["sales"]) for r in csv.DictReader(handle)) == 144
