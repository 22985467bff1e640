"""`lakeroutine run` on S3 killed with SIGKILL at several points, then run again: every
landing object ends staged exactly once and archived (or deleted) exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lakeroutine.testing import kill_when, left_local_state

pytestmark = pytest.mark.slow

OBJECTS = 240


def backend_keys(prefix: str) -> list[str]:
    """Keys below ``prefix``, read straight from the emulator (no request of ours)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    keys = s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets["lake"].keys
    for _ in range(100):
        try:
            return [k for k in list(keys.keys()) if k.startswith(prefix)]
        except RuntimeError:  # changed while being read
            continue
    raise RuntimeError("could not read the emulator's keys")


def write_routine(root: Path, mode: str, transform: bool) -> None:
    params = {
        "parent_directory": "s3://lake/landing/",
        "dump_directory": "s3://lake/staging/",
        "archive_or_delete": mode,
        "max_workers": 8,
    }
    if transform:
        params["py_exec_path"] = "lakeroutine.testing:copy_or_die"
        params["py_exec_args"] = {"die_at": "${die_at}", "counter": "${counter}"}
    routine = {
        "routine_name": "s3_kill_test",
        "executors": {"StagingExecutor": {"params": params, "tasks": ["transfer", "post_staging"]}},
    }
    (root / "routine.json").write_text(json.dumps(routine))


SHARED_STATE = "s3://lake/state/?lease_s=3"


def start(root: Path, die_at: int = 0, shared: bool = False) -> subprocess.Popen:
    """A run of the routine; with ``shared`` state on S3, from a working folder and HOME of
    its own (another "machine" each time), waiting for a killed run's lease to expire."""
    stamp = time.monotonic_ns()
    counter = root / f"counter-{stamp}"
    command = [sys.executable, "-m", "lakeroutine.cli", "-q", "run", str(root / "routine.json")]
    command += ["--var", f"die_at={die_at}", "--var", f"counter={counter}"]
    cwd, env = None, None
    if shared:
        cwd = root / f"machine-{stamp}"
        cwd.mkdir()
        env = {**os.environ, "HOME": str(cwd)}
        command += ["--state", SHARED_STATE, "--wait", "60"]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env
    )


# Kills with a transformation and with the state on S3 (rerun from another machine) are
# cases of the state-store conformance kit (test_conformance_state_s3.py); these add an
# object uploaded in parts, whose ETag is not an MD5.
@pytest.mark.parametrize(
    ("mode", "transform", "shared"), [("archive", False, False), ("delete", False, False)]
)
def test_killed_s3_runs_resume_without_loss_or_doubles(bucket, tmp_path, mode, transform, shared):
    """With ``shared``, the state is on S3 and each run starts on another "machine"."""
    originals = {
        f"day{i % 4}/obj{i:04}.csv": f"id,n\n{i},{i * i}\n".encode() for i in range(OBJECTS)
    }
    for rel, body in originals.items():
        bucket.fill([f"landing/{rel}"], body)
    originals["parts.bin"] = os.urandom(6 * 1024 * 1024)  # uploaded in parts: ETag not an MD5
    bucket.put_multipart("landing/parts.bin", originals["parts.bin"])
    total = len(originals)
    write_routine(tmp_path, mode, transform)
    kills = 0

    if transform:  # killed by the transformation itself, on its 1st and 150th file
        for die_at in (1, 150):
            process = start(tmp_path, die_at=die_at, shared=shared)
            process.wait()
            assert process.returncode == -signal.SIGKILL, process.stderr.read()
            kills += 1
    else:  # killed from outside while transfer copies
        for share in (1, OBJECTS // 3):
            process = start(tmp_path, shared=shared)
            kills += kill_when(process, lambda s=share: len(backend_keys("staging/")) >= s)
    assert 0 < len(backend_keys("staging/")) < total  # the kills landed mid-transfer

    # Killed in post_staging: once it has archived a first object and a third of them (or,
    # deleting, right after its batch of deletes, before the journal learns of it).
    if mode == "archive":
        for share in (1, OBJECTS // 3):
            process = start(tmp_path, shared=shared)
            kills += kill_when(process, lambda s=share: len(backend_keys("landing_archive/")) >= s)
        assert 0 < len(backend_keys("landing_archive/")) < total  # killed mid-archive
    else:
        process = start(tmp_path, shared=shared)
        kills += kill_when(process, lambda: len(backend_keys("landing/")) < total)
    assert kills >= 3

    final = start(tmp_path, shared=shared)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()

    assert bucket.stored("landing/") == {}
    assert bucket.stored("staging/") == originals  # each exactly once
    expected_archive = originals if mode == "archive" else {}
    assert bucket.stored("landing_archive/") == expected_archive  # no renamed doubles
    if shared:
        assert left_local_state(tmp_path) == []
