"""The README's kit tables: counts added up per row, and what a case found (lost, doubled)
shown as found, never assumed."""

from __future__ import annotations

import json

from lakeroutine.testing.conformance.tally import state_table


def test_state_rows_add_up_and_show_what_was_found() -> None:
    lines = [
        json.dumps({"where": "s3 gcs", "kill_points": 4, "runs": 5, "lost": 0, "doubled": 0}),
        json.dumps({"where": "s3 gcs", "kill_points": 4, "runs": 5, "lost": 2, "doubled": 1}),
        json.dumps({"where": "sqlite -", "faults": 3, "window_writes": 7}),
    ]
    rows = state_table(lines).splitlines()[2:]
    assert rows == [
        "| S3 (moto), reruns from another machine | GCS (fake-gcs-server) | 8 | 10 | 0 | 0 | 0 "
        "| 2 | 1 | 0 |",
        "| SQLite (local) | store cases | 0 | 0 | 0 | 3 | 7 | 0 | 0 | 0 |",
    ]
