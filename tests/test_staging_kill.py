"""A real `lakeroutine run` process killed with SIGKILL at several points, then run again:
every landing file ends staged exactly once and archived exactly once, nothing lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lakeroutine.testing import kill_when

pytestmark = pytest.mark.slow

FILES = 600


def make_lake(root: Path) -> dict[str, bytes]:
    landing = root / "landing"
    originals = {}
    for number in range(FILES):
        rel = f"day{number % 3}/file{number:04}.csv"
        content = f"id,value\n{number},{random.random()}\n".encode() * 20
        path = landing / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        originals[rel] = content
    routine = {
        "routine_name": "kill_test",
        "executors": {
            "StagingExecutor": {
                "params": {
                    "parent_directory": "landing/",
                    "dump_directory": "staging/",
                    "archive_or_delete": "${mode}",
                    "py_exec_path": "lakeroutine.testing:copy_or_die",
                    "py_exec_args": {"die_at": "${die_at}", "counter": "${counter}"},
                    "max_workers": 4,
                },
                "tasks": ["transfer", "post_staging"],
            }
        },
    }
    import json

    (root / "routine.json").write_text(json.dumps(routine))
    return originals


def start(root: Path, mode: str, die_at: int = 0) -> subprocess.Popen:
    counter = root / f"counter-{time.monotonic_ns()}"
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lakeroutine.cli",
            "-q",
            "run",
            str(root / "routine.json"),
            "--var",
            f"mode={mode}",
            "--var",
            f"die_at={die_at}",
            "--var",
            f"counter={counter}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "LAKEROUTINE_PLUGINS": ""},  # the built-ins only
    )


def files(folder: Path) -> dict[str, bytes]:
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def assert_no_partial_files(folder: Path, originals: dict[str, bytes]) -> None:
    """Whatever a killed run left under its final name is complete."""
    for rel, content in files(folder).items():
        if ".lakeroutine-tmp" not in rel:
            assert content == originals[rel], f"{rel} is incomplete"


def count(folder: Path) -> int:
    return sum(len(names) for _, _, names in os.walk(folder)) if folder.exists() else 0


@pytest.mark.parametrize("mode", ["archive", "delete"])
def test_killed_runs_resume_without_loss_or_doubles(tmp_path, mode):
    originals = make_lake(tmp_path)
    staging, archive = tmp_path / "staging", tmp_path / "landing_archive"
    killed = 0

    # 1. Killed inside transfer by the transformation itself, after 1, 150 and 400 files.
    for die_at in (1, 150, 400):
        process = start(tmp_path, mode, die_at=die_at)
        process.wait()
        assert process.returncode == -signal.SIGKILL, process.stderr.read()
        killed += 1
        assert_no_partial_files(staging, originals)
    # 2. Killed from outside in post_staging: as soon as it has archived (or deleted) its
    #    first file, and again a third of the way through.
    landing_count = lambda: count(tmp_path / "landing")  # noqa: E731
    done = (lambda: count(archive)) if mode == "archive" else (lambda: FILES - landing_count())
    for share in (1, FILES // 3):
        process = start(tmp_path, mode)
        killed += kill_when(process, lambda s=share: done() >= s)
        assert_no_partial_files(staging, originals)
        assert_no_partial_files(archive, originals)
    assert killed >= 4
    assert 0 < done() < FILES  # the kills did land in the middle of post_staging

    final = start(tmp_path, mode)
    _out, err = final.communicate(timeout=60)
    assert final.returncode == 0, err.decode()

    assert files(tmp_path / "landing") == {}
    assert files(staging) == originals  # each exactly once: no doubles, no temporary files
    if mode == "archive":
        assert files(archive) == originals
    else:
        assert not archive.exists()
