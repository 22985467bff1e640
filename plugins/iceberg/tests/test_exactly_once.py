"""Point 3: a real ``lakeroutine run`` SIGKILLed while it writes and right after it commits,
then run again, commits every staged row exactly once; 8 processes x 10 commits to one
table end with 0 failures and 0 duplicates (conflicts retried with backoff)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from lakeroutine.testing import kill_when

sys.path.insert(0, os.path.dirname(__file__))

from iceberg_support import SPEC, stage, twin_routine, twin_table

pytestmark = pytest.mark.slow


def start(routine: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lakeroutine.cli", "-q", "run", str(routine)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def count_files(folder: Path, suffix: str) -> int:
    return sum(1 for p in folder.rglob(f"*{suffix}")) if folder.exists() else 0


def commits_of(table, step: str) -> list[dict]:
    table.refresh()
    found = []
    for snapshot in table.metadata.snapshots:
        props = snapshot.summary.additional_properties
        if props.get("lakeroutine.step-id") == step:
            found.append(props)
    return found


@pytest.mark.parametrize("mode", ["rewrite", "reference"])
def test_killed_appends_commit_exactly_once(tmp_path: Path, run, mode: str) -> None:
    ids = range(0, 300_000)
    for part in range(6):
        chunk = ids[part * 50_000 : (part + 1) * 50_000]
        stage(tmp_path / "staged", f"p{part}.parquet", chunk, day=1 + part % 3)
    setup = run(
        twin_routine(
            tmp_path, [{"task": "iceberg_create_table", "args": {"table": SPEC}}], name="setup.json"
        )
    )
    assert setup.ok, setup
    routine = twin_routine(
        tmp_path,
        [
            {
                "task": "iceberg_append",
                "args": {"table": "events", "files": "staged/", "mode": mode},
            },
            {
                "task": "iceberg_merge",
                "args": {
                    "table": "events",
                    "query": "SELECT 7 AS id, TIMESTAMP '2024-01-01 12:00:00'"
                    " AS ts, 'fixed' AS kind, 9.5 AS amount",
                    "keys": ["id"],
                },
            },
        ],
    )
    table_dir = tmp_path / "lake.iceberg" / "warehouse"
    metadata = lambda: count_files(table_dir, ".metadata.json")  # noqa: E731
    avro = lambda: count_files(table_dir, ".avro")  # noqa: E731
    killed = 0
    # 1. while it plans and writes (before its first manifest), 2. as soon as a manifest is
    # written (mid-commit), 3. as soon as the append's metadata is committed (the task has not
    # recorded its success), 4. as soon as the merge's commit lands.
    base_meta, base_avro = metadata(), avro()
    conditions = [
        lambda: True,
        lambda: avro() > base_avro,
        lambda: metadata() > base_meta,
        lambda: metadata() > base_meta + 1,
    ]
    for condition in conditions:
        process = start(routine)
        if kill_when(process, condition):
            killed += 1
            assert process.returncode == -signal.SIGKILL
    assert killed >= 3

    final = start(routine)
    _out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()
    again = start(routine)  # a rerun after success: a new run; the merge is idempotent
    _out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()

    table = twin_table(tmp_path)
    got = table.scan(selected_fields=("id",)).to_arrow().column("id").to_pylist()
    assert len(got) == len(ids)
    assert sorted(got) == list(ids)  # nothing lost, nothing doubled
    assert len(commits_of(table, "lake.iceberg_append")) == 1  # the rerun found its files
    fixed = table.scan(row_filter="id = 7").to_arrow().to_pylist()
    assert [(r["kind"], r["amount"]) for r in fixed] == [("fixed", 9.5)]


WRITERS, COMMITS = 8, 10


def test_concurrent_writers_retry_without_failures_or_duplicates(tmp_path: Path, run) -> None:
    spec = {**SPEC, "properties": {}}  # pyiceberg's default 4 retries: ours do the rest
    setup = run(
        twin_routine(
            tmp_path, [{"task": "iceberg_create_table", "args": {"table": spec}}], name="setup.json"
        )
    )
    assert setup.ok, setup
    processes = []
    for writer in range(WRITERS):
        tasks = []
        for commit in range(COMMITS):
            first = (writer * COMMITS + commit) * 10
            folder = f"staged/w{writer}/c{commit}/"
            stage(tmp_path / folder, "rows.parquet", range(first, first + 10))
            tasks.append({"task": "iceberg_append", "args": {"table": "events", "files": folder}})
        routine = json.loads(twin_routine(tmp_path, tasks, name=f"w{writer}.json").read_text())
        routine["routine_name"] = f"writer{writer}"  # one routine each: no shared run lock
        path = tmp_path / f"w{writer}.json"
        path.write_text(json.dumps(routine))
        processes.append(start(path))
    failures = []
    for process in processes:
        _out, err = process.communicate(timeout=600)
        if process.returncode != 0:
            failures.append(err.decode()[-2000:])
    assert failures == []
    table = twin_table(tmp_path)
    got = table.scan(selected_fields=("id",)).to_arrow().column("id").to_pylist()
    assert sorted(got) == list(range(WRITERS * COMMITS * 10))  # 0 duplicates, 0 lost
    appends = [
        s
        for s in table.metadata.snapshots
        if "lakeroutine.commit-token" in s.summary.additional_properties
    ]
    assert len(appends) == WRITERS * COMMITS
    assert (
        len({s.summary.additional_properties["lakeroutine.commit-token"] for s in appends})
        == WRITERS * COMMITS
    )
