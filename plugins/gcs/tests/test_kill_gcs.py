"""`lakeroutine run` on GCS killed with SIGKILL at several points, then run again: every
landing object ends staged exactly once and archived (or deleted) exactly once. The runs go
through the proxy that enforces what fake-gcs-server ignores (conditional deletes, copies)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from staging_support import kill_at_several_points

pytestmark = pytest.mark.slow

OBJECTS = 120


def write_routine(root: Path, mode: str) -> Path:
    params = {
        "parent_directory": "gs://lake/landing/",
        "dump_directory": "gs://lake/staging/",
        "archive_or_delete": mode,
        "max_workers": 8,
    }
    routine = {
        "routine_name": "gcs_kill_test",
        "executors": {"StagingExecutor": {"params": params, "tasks": ["transfer", "post_staging"]}},
    }
    path = root / "routine.json"
    path.write_text(json.dumps(routine))
    return path


def start(path: Path, endpoint: str) -> subprocess.Popen:
    env = {**os.environ, "STORAGE_EMULATOR_HOST": endpoint}
    command = [sys.executable, "-m", "lakeroutine.cli", "-q", "run", str(path)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("mode", ["archive", "delete"])
def test_killed_gcs_runs_resume_without_loss_or_doubles(gcs_bucket, gcs_via, tmp_path, mode):
    originals = {
        f"day{i % 4}/obj{i:04}.csv": f"id,n\n{i},{i * i}\n".encode() for i in range(OBJECTS)
    }
    for rel, body in originals.items():
        gcs_bucket.put(f"landing/{rel}", body)
    proxy = gcs_via()
    path = write_routine(tmp_path, mode)
    kill_at_several_points(
        lambda: start(path, proxy.url),
        lambda folder: len(gcs_bucket.keys(folder + "/")),
        mode,
        OBJECTS,
    )

    final = start(path, proxy.url)
    _, err = final.communicate(timeout=180)
    assert final.returncode == 0, err.decode()
    assert gcs_bucket.objects("landing/") == {}
    assert gcs_bucket.objects("staging/") == originals  # each exactly once
    assert gcs_bucket.objects("landing_archive/") == (originals if mode == "archive" else {})
