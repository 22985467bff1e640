"""The StagingExecutor on GCS (fake-gcs-server behind the precondition-enforcing proxy):
GCS to GCS and mixed with local folders, the staging guarantees, and bad input refused
before anything moves."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from lakeroutine.errors import RoutineError
from staging_support import EARLIER, assert_archived_beside_earlier, listing_memory_peaks

FILES = {f"day{i % 2}/sales_{i}.csv": f"column1,column2\nname{i},{i}\n".encode() for i in range(12)}
WRITES = ("upload", "resumable_start", "upload_chunk", "rewrite", "delete", "batch")


def land(bucket, prefix: str = "landing/") -> None:
    for rel, body in FILES.items():
        bucket.put(prefix + rel, body)


@pytest.mark.parametrize("mode", ["archive", "delete"])
def test_gcs_to_gcs(gcs_bucket, gcs_via, routine, run, mode):
    land(gcs_bucket)
    gcs_bucket.put("landing_archive/day0/sales_0.csv", EARLIER)
    proxy = gcs_via()
    result = run(
        routine(
            parent_directory="gs://lake/landing/",
            dump_directory="gs://lake/staging/",
            archive_or_delete=mode,
        )
    )
    assert result.status == "succeeded", result.tasks
    assert gcs_bucket.objects("staging/") == FILES
    assert gcs_bucket.objects("landing/") == {}
    assert_archived_beside_earlier(
        gcs_bucket.objects("landing_archive/"), FILES, "day0/sales_0.csv", mode
    )
    deletes = [query for method, _, query in proxy.enforcer.batched if method == "DELETE"]
    assert proxy.count("batch") == 4 and proxy.count("delete") == 0  # 4 batches of 3
    assert len(deletes) == len(FILES)
    assert all("ifGenerationMatch" in query for query in deletes)  # exactly the version staged
    assert proxy.count("rewrite") == len(FILES) * (2 if mode == "archive" else 1) + (
        1 if mode == "archive" else 0
    )


@pytest.mark.parametrize("direction", ["local to gcs", "gcs to local"])
def test_mixed_local_and_gcs(gcs_bucket, routine, run, lake, direction):
    if direction == "local to gcs":
        for rel, body in FILES.items():
            lake.write(rel, body)
        params = {"parent_directory": str(lake.landing), "dump_directory": "gs://lake/staging/"}
    else:
        land(gcs_bucket)
        params = {"parent_directory": "gs://lake/landing", "dump_directory": str(lake.staging)}
    result = run(routine(**params))
    assert result.status == "succeeded", result.tasks
    if direction == "local to gcs":
        assert gcs_bucket.objects("staging/") == FILES
        assert lake.files(lake.landing) == {}
        assert lake.files(lake.root / "landing_archive") == FILES
    else:
        assert lake.files(lake.staging) == FILES
        assert gcs_bucket.objects("landing/") == {}
        assert gcs_bucket.objects("landing_archive/") == FILES


def test_a_missing_bucket_is_refused_before_anything_moves(gcs_bucket, gcs_via, routine, run):
    land(gcs_bucket)
    proxy = gcs_via()
    with pytest.raises(RoutineError, match=r"params.dump_directory.*bucket 'nope' does not exist"):
        run(routine(parent_directory="gs://lake/landing/", dump_directory="gs://nope/staging/"))
    assert not any(proxy.count(op) for op in WRITES)
    assert gcs_bucket.objects("landing/") == FILES


def test_refused_credentials_are_a_clear_error(gcs_emulator, gcs_bucket, routine, run, monkeypatch):
    from gcs_proxy import FaultProxy, Reply, classify

    def refuse(request, forward):
        return Reply(401, [("Content-Type", "application/json")], b'{"error": {"code": 401}}')

    with FaultProxy(gcs_emulator, classify, enforce=refuse) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        with pytest.raises(
            RoutineError, match=r"params.parent_directory.*credentials were refused"
        ):
            run(routine(parent_directory="gs://lake/landing/", dump_directory="gs://lake/s/"))


def test_an_unknown_gcs_option_is_named(gcs_bucket, routine, run):
    with pytest.raises(RoutineError, match=r"storage_options\.gs\.chunk_sise"):
        run(
            routine(
                parent_directory="gs://lake/landing/",
                dump_directory="gs://lake/staging/",
                storage_options={"gs": {"chunk_sise": 1}},
            )
        )


def test_exit_code_2_from_the_command_line(gcs_bucket, lake, tmp_path):
    routine = {
        "routine_name": "r",
        "executors": {
            "StagingExecutor": {
                "params": {"parent_directory": "gs://nope/landing/", "dump_directory": "out"},
                "tasks": ["transfer"],
            }
        },
    }
    path = lake.routine_file(routine)
    command = [sys.executable, "-m", "lakeroutine.cli", "run", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "parent_directory" in done.stderr and "bucket 'nope' does not exist" in done.stderr


def test_listing_memory_is_flat(gcs_bucket):
    """Listing pages are let go as they are read: one page of names in memory, not all."""
    for i in range(900):
        gcs_bucket.bucket.blob(f"m/{i:05}").upload_from_string(b"")
    one_page, nine_pages = listing_memory_peaks(
        "lakeroutine_gcs.storage", "GcsStorage", {"gs": {"list_page_size": 100}}, "gs://lake/m/"
    )
    assert nine_pages < one_page * 1.2, (one_page, nine_pages)  # held pages: 1.8x and more


def test_report_is_json(gcs_bucket, routine, run, tmp_path):
    land(gcs_bucket)
    result = run(routine(parent_directory="gs://lake/landing/", dump_directory="gs://lake/s/"))
    assert json.loads(json.dumps(result.tasks[0].output))["staged"] == len(FILES)
