"""A secret never lands in the run state: values are masked where they are written to a
state store (the SQLite file here; the S3 store writes through the same function)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_a_secret_in_a_location_never_reaches_the_state_file(tmp_path):
    secret = "s3cr3t-t0ken-value"
    landing = tmp_path / f"landing-{secret}"
    landing.mkdir()
    (landing / "a.csv").write_text("1")
    routine = {
        "routine_name": "secretive",
        "executors": {
            "StagingExecutor": {
                "params": {
                    "parent_directory": "landing-${env:LAKE_TOKEN}/",
                    "dump_directory": "staging/",
                    "archive_or_delete": "archive",
                },
                "tasks": ["transfer"],
            }
        },
    }
    path = tmp_path / "routine.json"
    path.write_text(json.dumps(routine))
    env = {**os.environ, "LAKE_TOKEN": secret, "LAKEROUTINE_PLUGINS": ""}
    command = [sys.executable, "-m", "lakeroutine.cli", "run", str(path)]

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "staging" / "a.csv").read_text() == "1"
    state_files = [p for p in (tmp_path / ".lakeroutine").rglob("*") if p.is_file()]
    assert state_files
    for state_file in state_files:
        assert secret.encode() not in state_file.read_bytes(), state_file
    assert secret not in done.stderr + done.stdout

    # The masked state still does its job: post_staging archives the staged file.
    routine["executors"]["StagingExecutor"]["tasks"] = ["transfer", "post_staging"]
    path.write_text(json.dumps(routine))
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert list(landing.iterdir()) == []
    assert (tmp_path / f"landing-{secret}_archive" / "a.csv").read_text() == "1"
    assert (tmp_path / "staging" / "a.csv").read_text() == "1"
