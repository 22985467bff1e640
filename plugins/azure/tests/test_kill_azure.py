"""`lakeroutine run` on Azure Blob Storage (Azurite) killed with SIGKILL at several points,
then run again: every landing blob ends staged exactly once and archived (or deleted)
exactly once. The runs go through a loopback proxy (Azurite enforces the conditions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from azurite import connection_string
from staging_support import kill_at_several_points

pytestmark = pytest.mark.slow

OBJECTS = 120


def write_routine(root: Path, mode: str) -> Path:
    params = {
        "parent_directory": "az://lake/landing/",
        "dump_directory": "az://lake/staging/",
        "archive_or_delete": mode,
        "max_workers": 8,
    }
    routine = {
        "routine_name": "azure_kill_test",
        "executors": {"StagingExecutor": {"params": params, "tasks": ["transfer", "post_staging"]}},
    }
    path = root / "routine.json"
    path.write_text(json.dumps(routine))
    return path


def start(path: Path, endpoint: str) -> subprocess.Popen:
    env = {**os.environ, "AZURE_STORAGE_CONNECTION_STRING": connection_string(endpoint)}
    command = [sys.executable, "-m", "lakeroutine.cli", "-q", "run", str(path)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("mode", ["archive", "delete"])
def test_killed_azure_runs_resume_without_loss_or_doubles(container, az_via, tmp_path, mode):
    originals = {
        f"day{i % 4}/obj{i:04}.csv": f"id,n\n{i},{i * i}\n".encode() for i in range(OBJECTS)
    }
    for rel, body in originals.items():
        container.put(f"landing/{rel}", body)
    proxy = az_via()
    path = write_routine(tmp_path, mode)
    kill_at_several_points(
        lambda: start(path, proxy.url),
        lambda folder: len(container.keys(folder + "/")),
        mode,
        OBJECTS,
    )

    final = start(path, proxy.url)
    _, err = final.communicate(timeout=180)
    assert final.returncode == 0, err.decode()
    assert container.objects("landing/") == {}
    assert container.objects("staging/") == originals  # each exactly once
    assert container.objects("landing_archive/") == (originals if mode == "archive" else {})
