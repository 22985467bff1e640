"""The Iceberg tasks on the DuckDB twin, through real routine runs: create, append (by
reference and rewritten), merge, overwrite, evolve, maintain and time travel."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from iceberg_support import SPEC, rows, stage, twin_routine, twin_table


def create() -> dict:
    return {"task": "iceberg_create_table", "args": {"table": SPEC}}


def test_create_append_merge_query(tmp_path: Path, run) -> None:
    stage(tmp_path / "staged/a", "part-0.parquet", range(0, 100), day=1)
    stage(tmp_path / "staged/a", "part-1.parquet", range(100, 150), day=2, schema="other")
    routine = twin_routine(
        tmp_path,
        [
            create(),
            {"task": "iceberg_append", "args": {"table": "events", "files": "staged/a/"}},
        ],
    )
    result = run(routine)
    assert result.ok, result
    out = result.tasks[1].output
    assert (out["registered_files"], out["rewritten_files"]) == (1, 1)
    table = twin_table(tmp_path)
    assert [r["id"] for r in rows(table)] == list(range(150))
    data_files = {t.file.file_path for t in table.scan().plan_files()}
    assert any(p.endswith("staged/a/part-0.parquet") for p in data_files)  # by reference
    assert not any(p.endswith("part-1.parquet") for p in data_files)  # rewritten
    first = table.current_snapshot().snapshot_id

    stage(tmp_path / "staged/b", "upd.parquet", range(140, 160), day=2, amount=5.0)
    routine = twin_routine(
        tmp_path,
        [
            {
                "task": "iceberg_merge",
                "args": {"table": "events", "files": "staged/b/", "keys": ["id"]},
            },
            {
                "task": "iceberg_query",
                "args": {"sql": f"SELECT count(*) AS n FROM events FOR VERSION AS OF {first}"},
            },
            {
                "task": "iceberg_query",
                "args": {"sql": "SELECT count(*) AS n, sum(amount) AS s FROM sales.events"},
            },
        ],
        name="merge.json",
    )
    result = run(routine)
    assert result.ok, result
    after = rows(twin_table(tmp_path))
    assert [r["id"] for r in after] == list(range(160))
    assert {r["amount"] for r in after if r["id"] >= 140} == {5.0}
    assert result.tasks[1].output["preview"] == [{"n": 150}]
    assert result.tasks[2].output["preview"] == [{"n": 160, "s": 140 * 1.0 + 20 * 5.0}]
    summary = twin_table(tmp_path).current_snapshot().summary.additional_properties
    assert summary["lakeroutine.step-id"] == "lake.iceberg_merge"
    assert summary["lakeroutine.run-id"] == result.run_id


def test_a_growing_staging_folder_appends_each_file_once(tmp_path: Path, run) -> None:
    stage(tmp_path / "staging", "day1.parquet", range(0, 10), day=1)
    append = {"task": "iceberg_append", "args": {"table": "events", "files": "staging/"}}
    first = run(twin_routine(tmp_path, [create(), append]))
    assert first.ok, first
    stage(tmp_path / "staging", "day2.parquet", range(10, 25), day=2, schema="other")
    second = run(twin_routine(tmp_path, [append], name="again.json"))
    assert second.ok, second
    assert second.tasks[0].output["files_already_in"] == 1
    assert second.tasks[0].output["rewritten_files"] == 1
    third = run(twin_routine(tmp_path, [append], name="again.json"))
    assert third.ok and third.tasks[0].output.get("snapshot_id") is not None
    assert [r["id"] for r in rows(twin_table(tmp_path))] == list(range(25))
