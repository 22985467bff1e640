"""Runs with their state on S3: staging from one working folder and finishing from
another, a missing state bucket, the run lock between two "machines" (own working folder
and HOME) with a SIGKILL, an expiry and a takeover, and what the state costs in requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lakeroutine.cli import main
from lakeroutine.testing import left_local_state

STATE = "s3://lake/state/"
LEASE_S = 8  # short, so the test sees one expire; long enough for a loaded machine
# (with 4 s, a CLI start under pytest-xdist on two cores outlived the dead run's lease)
HOLD = '''
import os, shutil, time

def hold(source, target, flag=""):
    """Copy, but first wait until the file ``flag`` exists."""
    while not os.path.exists(flag):
        time.sleep(0.05)
    shutil.copyfile(source, target)
'''


def machine(root: Path, name: str, routine: dict[str, Any]) -> Path:
    """A folder standing in for a machine: its own routine file, working folder and HOME."""
    folder = root / name
    folder.mkdir()
    (folder / "routine.json").write_text(json.dumps(routine))
    (folder / "hold.py").write_text(HOLD)
    return folder


def cli(folder: Path, *args: str) -> subprocess.Popen[bytes]:
    """``lakeroutine ARGS`` run from ``folder`` with HOME there too."""
    env = {**os.environ, "HOME": str(folder), "LAKEROUTINE_PLUGINS": "s3"}
    return subprocess.Popen(
        [sys.executable, "-m", "lakeroutine.cli", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def shared_routine(state: str, **params: Any) -> dict[str, Any]:
    """A landing-to-staging routine on bucket ``lake`` with its state at ``state``."""
    params = {
        "parent_directory": "s3://lake/landing/",
        "dump_directory": "s3://lake/staging/",
        "storage_options": {"check_absent_before_copy": True},  # moto ignores IfNoneMatch
        **params,
    }
    block = {"params": params, "tasks": ["transfer", "post_staging"]}
    return {"routine_name": "shared", "state": state, "executors": {"StagingExecutor": block}}


def test_transfer_on_one_machine_and_post_staging_on_another(
    bucket: Any, tmp_path, capsys, monkeypatch
):
    bucket.fill([f"landing/f{i}.csv" for i in range(30)], b"data")
    routine = shared_routine(STATE)
    first = machine(tmp_path, "one", routine)
    second = machine(tmp_path, "two", routine)
    ran = cli(first, "run", "routine.json", "--only", "StagingExecutor.transfer")
    assert ran.wait() == 0, ran.stderr.read()
    assert any(k.startswith("records/") for k in bucket.keys("state/shared/"))
    ran = cli(second, "run", "routine.json", "--only", "StagingExecutor.post_staging")
    _, err = ran.communicate()
    assert ran.returncode == 0, err
    assert bucket.keys("landing/") == []
    assert sorted(bucket.keys("landing_archive/")) == sorted(f"f{i}.csv" for i in range(30))
    assert left_local_state(tmp_path) == []

    monkeypatch.chdir(second)
    assert main(["state", "show", "routine.json", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["store"] == "s3://lake/state/shared/"
    assert shown["last_run"]["status"] == "succeeded" and shown["lock"] is None
    journal = [j for j in shown["journals"] if j["table"] == "staging"]
    assert journal and not journal[0]["by_status"]  # all finished
    claims = [j for j in shown["journals"] if j["table"] == "staging_outputs"]
    assert claims[0]["by_status"] == {"entries": 30}  # which landing file owns each name


def test_a_state_bucket_that_does_not_exist_is_exit_2_before_anything_moves(
    bucket: Any, tmp_path, capsys, monkeypatch
):
    bucket.fill(["landing/a.csv"], b"a")
    folder = machine(tmp_path, "one", shared_routine("s3://no-such-bucket/state/"))
    monkeypatch.chdir(folder)
    assert main(["run", "routine.json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "bucket 'no-such-bucket' does not exist" in err and "\n" not in err
    assert bucket.keys("landing/") == ["a.csv"] and bucket.keys("staging/") == []


def test_a_state_bucket_the_credentials_cannot_write_is_exit_2_before_anything_moves(
    bucket: Any, tmp_path, capsys, monkeypatch
):
    """Reads pass, every write under the state prefix is refused (403), as an IAM policy
    allowing only reads would: the run stops before anything is staged."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from s3_fault_proxy import FaultProxy

    bucket.fill(["landing/a.csv"], b"a")
    upstream = os.environ["AWS_ENDPOINT_URL"]
    read_only = FaultProxy(
        upstream,
        deny=lambda r: (
            r.key.startswith("state/")
            and r.operation not in ("GetObject", "HeadObject", "ListObjectsV2", "HeadBucket")
        ),
    )
    with read_only:
        routine = shared_routine(f"s3://lake/state/?endpoint_url={read_only.url}")
        folder = machine(tmp_path, "one", routine)
        monkeypatch.chdir(folder)
        assert main(["run", "routine.json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "access denied" in err.lower() and "\n" not in err, err
    assert bucket.keys("landing/") == ["a.csv"] and bucket.keys("staging/") == []


def test_the_run_lock_between_two_machines_with_a_kill_an_expiry_and_a_takeover(
    bucket: Any, tmp_path
):
    bucket.fill([f"landing/f{i}.csv" for i in range(5)], b"data")
    flag = tmp_path / "go"
    routine = shared_routine(
        STATE + f"?lease_s={LEASE_S}",
        py_exec_path="hold.py:hold",
        py_exec_args={"flag": str(flag)},
        max_workers=1,
    )
    one = machine(tmp_path, "one", routine)
    two = machine(tmp_path, "two", routine)

    holder = cli(one, "run", "routine.json")  # waits in its first file until the flag
    deadline = time.monotonic() + 60
    while "lock.json" not in bucket.keys("state/shared/"):
        assert holder.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    refused = cli(two, "run", "routine.json")
    _, err = refused.communicate(timeout=120)
    assert refused.returncode == 2 and b"another run holds the lock" in err
    time.sleep(2.5 * LEASE_S)  # over two leases: the live holder kept renewing
    refused = cli(two, "run", "routine.json")
    _, err = refused.communicate(timeout=120)
    assert refused.returncode == 2 and b"another run holds the lock" in err, err

    holder.send_signal(signal.SIGKILL)
    holder.wait()
    refused = cli(two, "run", "routine.json")  # the dead run's lease has yet to expire
    _, err = refused.communicate(timeout=120)
    assert refused.returncode == 2 and b"lease expires in" in err

    flag.touch()
    taker = cli(two, "run", "routine.json", "--wait", "60")
    _, err = taker.communicate(timeout=120)
    assert taker.returncode == 0, err
    assert b"took over the run lock" in err
    assert sorted(bucket.keys("staging/")) == [f"f{i}.csv" for i in range(5)]
    assert bucket.keys("landing/") == []
    assert "lock.json" not in bucket.keys("state/shared/")  # released
    assert left_local_state(tmp_path) == []


OBJECTS = 5_000  # several journal batches (1,000 entries each), light enough to run often


@pytest.mark.slow
def test_s3_state_costs_at_most_5_percent_more_requests(bucket: Any, proxy, run, tmp_path):
    """Staging 5,000 objects with the journal on S3 sends at most 5% more S3 requests than
    with it in local SQLite, counted through a proxy."""
    counts = {}
    for state in ("local", "s3"):
        bucket.fill([f"landing/{state}/d{i % 10}/f{i:05d}" for i in range(OBJECTS)], b"x")
        counting = proxy()
        url = f"{STATE}?endpoint_url={counting.url}" if state == "s3" else str(tmp_path / "st")
        routine = {
            "routine_name": f"cost_{state}",
            "state": url,
            "executors": {
                "StagingExecutor": {
                    "params": {
                        "parent_directory": f"s3://lake/landing/{state}/",
                        "dump_directory": f"s3://lake/staging/{state}/",
                        "archive_or_delete": "delete",
                        "endpoint_url": counting.url,
                        "max_workers": 16,
                    },
                    "tasks": ["transfer", "post_staging"],
                }
            },
        }
        result = run(routine)
        assert result.ok, [t.error for t in result.tasks]
        assert result.tasks[0].output["staged"] == OBJECTS
        counts[state] = counting.operations()
    local, shared = sum(counts["local"].values()), sum(counts["s3"].values())
    state_requests = {op: n - counts["local"].get(op, 0) for op, n in counts["s3"].items()}
    assert shared <= local * 1.05, (local, shared, state_requests)
    assert counts["s3"]["PutObject"] >= OBJECTS // 1000  # the journal went to S3 in batches


def test_validate_refuses_a_bad_state_url_before_anything_runs(tmp_path, monkeypatch, capsys):
    folder = machine(tmp_path, "one", shared_routine(STATE + "?lease_s=0"))
    monkeypatch.chdir(folder)
    assert main(["validate", "routine.json", "--offline"]) == 2
    err = capsys.readouterr().err
    assert "field 'state'" in err and "lease_s=0 must be between 1 and 3600" in err
