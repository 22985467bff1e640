"""`lakeroutine run` on SFTP killed with SIGKILL at several points, then run again: every
landing file ends staged exactly once and archived (or deleted) exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from staging_support import kill_at_several_points

pytestmark = pytest.mark.slow

FILES = 120


def start(path: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "lakeroutine.cli", "-q", "run", str(path)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def count(server, folder: str) -> int:
    root = server.root / folder
    return sum(1 for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


@pytest.mark.parametrize("mode", ["archive", "delete"])
def test_killed_sftp_runs_resume_without_loss_or_doubles(sftp_server, tmp_path, mode):
    originals = {f"day{i % 4}/f{i:04}.csv": f"id,n\n{i},{i * i}\n".encode() for i in range(FILES)}
    for rel, body in originals.items():
        sftp_server.write(f"landing/{rel}", body)
    params = {
        "parent_directory": sftp_server.url("landing/"),
        "dump_directory": sftp_server.url("staging/"),
        "archive_or_delete": mode,
        "storage_options": sftp_server.options(),
    }
    routine = {
        "routine_name": "sftp_kill_test",
        "executors": {"StagingExecutor": {"params": params, "tasks": ["transfer", "post_staging"]}},
    }
    path = tmp_path / "routine.json"
    path.write_text(json.dumps(routine))
    kill_at_several_points(
        lambda: start(path), lambda folder: count(sftp_server, folder), mode, FILES
    )

    final = start(path)
    _, err = final.communicate(timeout=180)
    assert final.returncode == 0, err.decode()
    # Killed writes leave hidden temporaries (unique per run: listings skip them).
    assert visible(sftp_server, "landing") == {}
    assert visible(sftp_server, "staging") == originals  # each exactly once
    assert visible(sftp_server, "landing_archive") == (originals if mode == "archive" else {})
    claims = [k for k in sftp_server.files("landing") if k.endswith(".lakeroutine-tmp-claim")]
    assert claims == []  # every claim was finished


def visible(server, folder: str) -> dict[str, bytes]:
    return {k: v for k, v in server.files(folder).items() if "/." not in "/" + k}
