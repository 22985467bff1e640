"""Staging through a loopback proxy that answers 30% of GCS requests with 503, 500 or a
dropped connection, before or after forwarding them (the request landed, the reply was
lost), and enforces the preconditions fake-gcs-server ignores. The routine still ends with
every object staged exactly once, archived once, and nothing lost."""

from __future__ import annotations

import os

import pytest
from staging_support import EARLIER, assert_archived_beside_earlier

MiB = 1024 * 1024
SMALL = 120
FAST_RETRIES = {"retry_initial_delay": 0.01, "retry_deadline": 600}


def assert_faults_were_injected(proxy) -> None:
    total, faults = proxy.count(), proxy.fault_counts()
    assert sum(faults.values()) >= 0.2 * total, (faults, total)
    assert set(faults) == {"unavailable", "internal", "drop", "lost_reply", "late_error"}
    assert proxy.count() > 2 * SMALL


@pytest.mark.slow
def test_gcs_to_gcs_under_faults(gcs_bucket, gcs_via, routine, run):
    originals = {f"d{i % 3}/o{i:03}.csv": f"id\n{i}\n".encode() for i in range(SMALL)}
    originals["big/a.bin"] = os.urandom(9 * MiB)  # a resumable upload when archived elsewhere
    for rel, body in originals.items():
        gcs_bucket.put(f"landing/{rel}", body)
    gcs_bucket.put("landing_archive/d0/o000.csv", EARLIER)
    proxy = gcs_via(fault_rate=0.3, seed=3)
    result = run(
        routine(
            parent_directory="gs://lake/landing/",
            dump_directory="gs://lake/staging/",
            storage_options={"gs": FAST_RETRIES},
        )
    )
    assert result.status == "succeeded", result.tasks
    assert_faults_were_injected(proxy)
    landed_twice = [
        r
        for r in proxy.requests
        if r.operation == "rewrite" and r.fault in ("lost_reply", "late_error")
    ]
    assert any("landing_archive" in r.path for r in landed_twice)
    assert gcs_bucket.objects("landing/") == {}
    assert gcs_bucket.objects("staging/") == originals
    assert_archived_beside_earlier(gcs_bucket.objects("landing_archive/"), originals, "d0/o000.csv")


@pytest.mark.slow
def test_local_to_gcs_with_a_gcs_archive_under_faults(gcs_bucket, gcs_via, routine, run, lake):
    """Uploads, and create-only archive uploads whose reply was lost: the retry gets 412
    although the first write landed; the file is archived once."""
    originals = {f"d{i % 3}/o{i:03}.csv": f"id\n{i}\n".encode() for i in range(SMALL)}
    originals["big.bin"] = os.urandom(9 * MiB)  # resumable, in chunks
    for rel, body in originals.items():
        lake.write(rel, body)
    # Not after forwarding a resumable upload's chunk: fake-gcs-server appends a chunk sent
    # again (after a lost reply) instead of placing it at its offset; GCS does not.
    proxy = gcs_via(fault_rate=0.3, seed=5, only=lambda operation: operation != "upload_chunk")
    result = run(
        routine(
            parent_directory=str(lake.landing),
            dump_directory="gs://lake/staging/",
            archive_directory="gs://lake/archive/",
            storage_options={"gs": {**FAST_RETRIES, "chunk_size": 1024 * 1024}},
        )
    )
    assert result.status == "succeeded", result.tasks
    assert_faults_were_injected(proxy)
    assert any(
        r.operation == "upload"
        and r.fault in ("lost_reply", "late_error")
        and "ifGenerationMatch" in r.query
        for r in proxy.requests
    )
    assert lake.files(lake.landing) == {}
    assert gcs_bucket.objects("staging/") == originals
    assert gcs_bucket.objects("archive/") == originals


@pytest.mark.slow
def test_gcs_to_local_under_faults(gcs_bucket, gcs_via, routine, run, lake):
    originals = {f"o{i:03}.csv": f"id\n{i}\n".encode() for i in range(SMALL)}
    originals["big.bin"] = os.urandom(3 * MiB)  # ranged GETs
    for rel, body in originals.items():
        gcs_bucket.put(f"landing/{rel}", body)
    proxy = gcs_via(fault_rate=0.3, seed=7)
    result = run(
        routine(
            parent_directory="gs://lake/landing/",
            dump_directory=str(lake.staging),
            archive_or_delete="delete",
            storage_options={"gs": {**FAST_RETRIES, "download_chunk_size": MiB}},
        )
    )
    assert result.status == "succeeded", result.tasks
    assert_faults_were_injected(proxy)
    assert lake.files(lake.staging) == originals
    assert gcs_bucket.objects("landing/") == {}
