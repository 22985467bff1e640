"""Overwrite of partitions, evolution (add, rename, widen, repartition) and maintenance
(compaction, expiry, orphan removal) on the twin, through routine runs."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from iceberg_support import SPEC, rows, stage, twin_routine, twin_table


def setup(tmp_path: Path, run, days: int = 3, files_per_day: int = 1) -> None:
    tasks = [{"task": "iceberg_create_table", "args": {"table": SPEC}}]
    for day in range(1, days + 1):
        for part in range(files_per_day):
            first = (day * 100 + part) * 10
            folder = f"staged/d{day}p{part}/"
            stage(tmp_path / folder, "x.parquet", range(first, first + 10), day=day)
            tasks.append({"task": "iceberg_append", "args": {"table": "events", "files": folder}})
    result = run(twin_routine(tmp_path, tasks, name="setup.json"))
    assert result.ok, result


def test_overwrite_replaces_only_the_source_partitions(tmp_path: Path, run) -> None:
    setup(tmp_path, run)
    before = rows(twin_table(tmp_path))
    result = run(
        twin_routine(
            tmp_path,
            [
                {
                    "task": "iceberg_overwrite",
                    "args": {
                        "table": "events",
                        "query": "SELECT 5 AS id, TIMESTAMP '2024-01-02 08:00:00' AS ts,"
                        " 'new' AS kind, 1.5 AS amount",
                    },
                }
            ],
            name="ow.json",
        )
    )
    assert result.ok, result
    after = rows(twin_table(tmp_path))
    day = lambda r: r["ts"].day  # noqa: E731
    assert [r for r in after if day(r) != 2] == [r for r in before if day(r) != 2]
    assert [(r["id"], r["kind"]) for r in after if day(r) == 2] == [(5, "new")]


def test_evolve_add_rename_widen_repartition_then_rerun(tmp_path: Path, run) -> None:
    setup(tmp_path, run, days=1)
    evolve = {
        "task": "iceberg_evolve",
        "args": {
            "table": "events",
            "add_columns": {"note": "string", "qty": "int"},
            "rename_columns": {"kind": "category"},
            "partitioned_by": ["month(ts)", "bucket(4, id)"],
            "sort_order": ["id desc"],
        },
    }
    widen = {
        "task": "iceberg_evolve",
        "args": {"table": "events", "widen_columns": {"qty": "bigint"}},
    }
    result = run(twin_routine(tmp_path, [evolve, widen], name="ev.json"))
    assert result.ok, result
    table = twin_table(tmp_path)
    columns = {f.name: str(f.field_type) for f in table.schema().fields}
    assert columns["qty"] == "long" and "category" in columns and "kind" not in columns
    assert [f.name for f in table.spec().fields] == ["ts_month", "id_bucket_4"]
    old = rows(table)
    assert {r["category"] for r in old} == {"k0", "k1", "k2"}  # renamed, data kept
    assert all(r["note"] is None for r in old)
    # A rerun changes nothing (each change is seen as made).
    again = run(twin_routine(tmp_path, [evolve, widen], name="ev.json"))
    assert again.ok, again
    assert [t.output.get("changed", True) for t in again.tasks] == [False, False]
    # New rows go to the new partitioning; old and new read together.
    stage(tmp_path / "later", "y.parquet", range(5000, 5005), day=9, schema="other")
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = (
        pq.read_table(tmp_path / "later/y.parquet")
        .rename_columns(["id", "ts", "category", "amount"])
        .append_column("qty", pa.array([7] * 5, pa.int64()))
    )
    pq.write_table(data, tmp_path / "later/y.parquet")
    appended = run(
        twin_routine(
            tmp_path,
            [{"task": "iceberg_append", "args": {"table": "events", "files": "later/"}}],
            name="ap.json",
        )
    )
    assert appended.ok, appended
    table = twin_table(tmp_path)
    assert len(rows(table)) == len(old) + 5
    specs = {t.file.spec_id for t in table.scan().plan_files()}
    assert len(specs) == 2  # files under both partition specs


def test_maintain_compacts_expires_and_removes_orphans(tmp_path: Path, run) -> None:
    setup(tmp_path, run, days=2, files_per_day=7)
    table = twin_table(tmp_path)
    before_rows = rows(table)
    before_files = len(list(table.scan().plan_files()))
    assert before_files == 14
    orphan = Path(table.location().removeprefix("file://")) / "data" / "orphan.parquet"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left by a crashed writer")
    old = time.time() - 5 * 3600
    os.utime(orphan, (old, old))
    young = orphan.with_name("young.parquet")
    young.write_bytes(b"a writer about to commit")
    maintain = {
        "task": "iceberg_maintain",
        "args": {
            "table": "events",
            "compact": {"target_file_mb": 128, "min_small_files": 5},
            "expire_older_than_days": 0,
            "retain_last": 1,
            "remove_orphans_older_than_hours": 1,
        },
    }
    result = run(twin_routine(tmp_path, [maintain], name="m.json"))
    assert result.ok, result
    out = result.tasks[0].output
    assert out["compaction"]["files_before"] == 14 and out["compaction"]["files_after"] == 2
    assert out["snapshots_expired"] >= 14
    table = twin_table(tmp_path)
    assert rows(table) == before_rows
    assert len(table.metadata.snapshots) == 1
    assert not orphan.exists() and young.exists()
    # The staged files registered by reference are outside the table's folder: kept.
    assert (tmp_path / "staged/d1p0/x.parquet").exists()
    # Every file the table reads still exists; a rerun finds nothing more to do.
    assert all(
        Path(t.file.file_path.removeprefix("file://")).exists() for t in table.scan().plan_files()
    )
    again = run(twin_routine(tmp_path, [maintain], name="m.json"))
    assert again.ok, again
    assert again.tasks[0].output["compaction"].get("nothing_to_commit")


def _appends_of_one_row(kind: str, note: Any) -> list[dict[str, Any]]:
    """Six appends of one row each (ids 5000 to 5005), the kind column named ``kind`` and
    ``note(n)`` in the note column: six small files."""
    return [
        {
            "task": "iceberg_append",
            "args": {
                "table": "events",
                "query": f"SELECT {5000 + n} AS id, TIMESTAMP '2024-01-01 08:00:00' AS ts, "
                f"'new' AS {kind}, 1.0 AS amount, '{note(n)}' AS note",
            },
        }
        for n in range(6)
    ]


def _compacted(table) -> list:
    return [t.file for t in table.scan().plan_files()]


def test_compaction_by_duckdb_keeps_field_ids_stats_and_partitions(tmp_path: Path, run) -> None:
    """Local Parquet of the current spec: one DuckDB pass writes the new files, with the
    table's field ids and codec, each in its partition, with statistics scans can prune on."""
    import pyarrow.parquet as pq

    setup(tmp_path, run, days=2, files_per_day=6)
    before = rows(twin_table(tmp_path))
    maintain = {
        "task": "iceberg_maintain",
        "args": {"table": "events", "compact": {"target_file_mb": 128, "min_small_files": 5}},
    }
    result = run(twin_routine(tmp_path, [maintain], name="m.json"))
    assert result.ok, result
    table = twin_table(tmp_path)
    assert rows(table) == before
    files = _compacted(table)
    assert len(files) == 2 and all("/data/compacted-" in f.file_path for f in files)
    ids = {f.name: f.field_id for f in table.schema().fields}
    for data_file in files:
        footer = pq.read_metadata(data_file.file_path.removeprefix("file://"))
        arrow = footer.schema.to_arrow_schema()
        assert {f.name: int(f.metadata[b"PARQUET:field_id"]) for f in arrow} == ids
        assert footer.row_group(0).column(0).compression == "ZSTD"
        assert data_file.record_count == 60 and data_file.lower_bounds and data_file.upper_bounds
    days = sorted(f.partition[0] for f in files)
    assert days[1] - days[0] == 1  # one file per day partition
    picked = table.scan(row_filter="id >= 2000").to_arrow()  # day 2's ids
    assert sorted(picked["id"].to_pylist()) == [r["id"] for r in before if r["id"] >= 2000]


def test_compaction_after_evolution_reads_by_field_not_by_name(tmp_path: Path, run) -> None:
    """A rename makes names unstable: pyiceberg's reader (by field id) rewrites; a column
    added after the files were written comes out null in either path."""
    setup(tmp_path, run, days=1, files_per_day=6)
    evolve = {
        "task": "iceberg_evolve",
        "args": {"table": "events", "add_columns": {"note": "string"}},
    }
    maintain = {
        "task": "iceberg_maintain",
        "args": {"table": "events", "compact": {"target_file_mb": 128, "min_small_files": 5}},
    }
    assert run(twin_routine(tmp_path, [evolve, maintain], name="add.json")).ok
    table = twin_table(tmp_path)
    (added,) = _compacted(table)
    assert "/data/compacted-" in added.file_path  # DuckDB: the new column written as nulls
    assert {r["note"] for r in rows(table)} == {None} and len(rows(table)) == 60

    rename = {
        "task": "iceberg_evolve",
        "args": {"table": "events", "rename_columns": {"kind": "k"}},
    }
    appends = _appends_of_one_row(kind="k", note=lambda n: "n")
    assert run(twin_routine(tmp_path, [rename, *appends, maintain], name="rename.json")).ok
    table = twin_table(tmp_path)
    (rewritten,) = _compacted(table)
    assert "/data/compacted-" not in rewritten.file_path  # pyiceberg's reader and writer
    got = rows(table)
    assert len(got) == 66 and {r["k"] for r in got} == {"k0", "k1", "k2", "new"}
    assert {r["note"] for r in got if r["id"] < 5000} == {None}


def test_compaction_of_files_with_and_without_an_added_column_loses_nothing(
    tmp_path: Path, run
) -> None:
    """DuckDB binds on the first file's footer when it holds every column; a later file
    lacking one (written before the column was added) makes it read every footer instead:
    the old files' column comes out null, the new files' values stay."""
    setup(tmp_path, run, days=1, files_per_day=6)
    evolve = {
        "task": "iceberg_evolve",
        "args": {"table": "events", "add_columns": {"note": "string"}},
    }
    appends = _appends_of_one_row(kind="kind", note=lambda n: f"n{n}")
    maintain = {
        "task": "iceberg_maintain",
        "args": {"table": "events", "compact": {"target_file_mb": 128, "min_small_files": 5}},
    }
    assert run(twin_routine(tmp_path, [evolve, *appends, maintain], name="mixed.json")).ok
    table = twin_table(tmp_path)
    (compacted,) = _compacted(table)
    assert "/data/compacted-" in compacted.file_path  # by DuckDB
    got = rows(table)
    assert len(got) == 66 and compacted.record_count == 66
    assert {r["id"]: r["note"] for r in got if r["id"] >= 5000} == {
        5000 + n: f"n{n}" for n in range(6)
    }
    assert {r["note"] for r in got if r["id"] < 5000} == {None}
