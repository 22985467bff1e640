"""post_staging keeps memory flat however many files were staged: it holds one chunk of
1,000 journal entries at a time, not a set of every landing file it listed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lakeroutine.orchestrator import run_routine

pytestmark = pytest.mark.slow


def routine(root: Path, tasks: list[str]) -> dict:
    return {
        "routine_name": "memory",
        "state_dir": str(root / "state"),
        "executors": {
            "StagingExecutor": {
                "params": {
                    "parent_directory": str(root / "landing"),
                    "dump_directory": str(root / "staging"),
                    "archive_or_delete": "delete",
                    "max_workers": 1,
                },
                "tasks": tasks,
            }
        },
    }


MEASURE = """
import json, sys, tracemalloc
from lakeroutine.orchestrator import run_routine
tracemalloc.start()
result = run_routine(json.loads(sys.argv[1]))
peak = tracemalloc.get_traced_memory()[1] / 2**20
print(json.dumps({"status": result.status, "output": result.tasks[0].output, "peak": peak}))
"""


def post_staging_peak(root: Path, files: int) -> float:
    """Peak MiB that post_staging allocates after ``files`` files were transferred (in a
    process of its own: nothing the test runner keeps, such as captured logs, counts)."""
    for i in range(files):
        folder = root / "landing" / f"d{i // 100:04}"  # 100 files a folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"a_rather_long_landing_file_name_{i:07}.csv").write_bytes(b"x")
    assert run_routine(routine(root, ["transfer"])).status == "succeeded"
    command = [sys.executable, "-c", MEASURE, json.dumps(routine(root, ["post_staging"]))]
    answer = json.loads(subprocess.run(command, capture_output=True, check=True).stdout)
    assert answer["status"] == "succeeded"
    assert answer["output"]["deleted"] == files
    assert not any((root / "landing").rglob("*.csv"))
    return answer["peak"]


def test_post_staging_memory_does_not_grow_with_the_number_of_files(tmp_path):
    small = post_staging_peak(tmp_path / "small", 2_000)
    large = post_staging_peak(tmp_path / "large", 20_000)
    assert large < 1.3 * small, (small, large)
