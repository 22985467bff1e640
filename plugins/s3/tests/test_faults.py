"""Staging through a loopback proxy that answers 30% of requests with 503 SlowDown, 500, or a
dropped connection, before or after forwarding them (the request landed, the reply was lost).
The routine still ends with every object staged exactly once and nothing lost."""

from __future__ import annotations

import os

import pytest

MiB = 1024 * 1024
FAULT_RATE = 0.3
SMALL = 150


@pytest.fixture
def retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Standard retries, plenty of attempts, no back-off sleeps, and a retry quota that a
    30% fault rate does not drain (both botocore's, not ours: botocore stops retrying once
    its 500-token quota is spent, which at this rate takes a few hundred requests)."""
    from botocore.retries.quota import RetryQuota
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "25")
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    quota_init = RetryQuota.__init__

    def large_quota(self: RetryQuota, initial_capacity: int = 10**9, lock: object = None):
        quota_init(self, initial_capacity, lock)

    monkeypatch.setattr(RetryQuota, "__init__", large_quota)


def assert_faults_were_injected(faulty) -> None:
    total, faults = faulty.count(), faulty.fault_counts()
    assert sum(faults.values()) >= 0.2 * total, (faults, total)
    assert set(faults) == {"slowdown", "internal", "drop", "lost_reply", "late_error"}


def no_multipart_uploads_left(bucket) -> bool:
    """No unfinished multipart upload (its parts would be stored, and billed, for ever)."""
    return bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", []) == []


def test_s3_to_s3_under_faults(bucket, routine, run, proxy, retries):
    originals = {f"d{i % 3}/o{i:03}.csv": f"id\n{i}\n".encode() for i in range(SMALL)}
    for rel, body in originals.items():
        bucket.fill([f"landing/{rel}"], body)
    # Copied with UploadPartCopy: one above the copy threshold, one uploaded in parts.
    originals["big/a.bin"] = os.urandom(11 * MiB)
    bucket.fill(["landing/big/a.bin"], originals["big/a.bin"])
    originals["big/parts.bin"] = os.urandom(6 * MiB)
    bucket.put_multipart("landing/big/parts.bin", originals["big/parts.bin"])
    bucket.fill(["landing_archive/d0/o000.csv"], b"archived by an earlier run")
    faulty = proxy(fault_rate=FAULT_RATE, seed=3)

    result = run(
        routine(
            parent_directory="s3://lake/landing/",
            dump_directory="s3://lake/staging/",
            endpoint_url=faulty.url,
            storage_options={
                "multipart_copy_threshold": 5 * MiB,
                "multipart_copy_part_size": 5 * MiB,
            },
        )
    )

    assert result.status == "succeeded", result.tasks
    assert_faults_were_injected(faulty)
    landed_twice = [
        r
        for r in faulty.requests
        if r.operation == "CopyObject" and r.fault in ("lost_reply", "late_error")
    ]
    assert any(r.key.startswith("landing_archive/") for r in landed_twice)
    assert bucket.stored("landing/") == {}
    assert bucket.stored("staging/") == originals
    assert no_multipart_uploads_left(bucket)
    archive = bucket.stored("landing_archive/")
    assert archive.pop("d0/o000.csv") == b"archived by an earlier run"
    renamed = [k for k in archive if k.startswith("d0/o000.")]
    assert len(renamed) == 1 and archive.pop(renamed[0]) == originals["d0/o000.csv"]
    assert archive == {k: v for k, v in originals.items() if k != "d0/o000.csv"}


def test_local_to_s3_with_an_s3_archive_under_faults(bucket, routine, run, proxy, retries, lake):
    """Uploads and no-overwrite archive uploads (PutObject with IfNoneMatch): a lost reply's
    retry gets 412 although the first write landed; the object is archived once."""
    originals = {f"d{i % 3}/o{i:03}.csv": f"id\n{i}\n".encode() for i in range(SMALL)}
    for rel, body in originals.items():
        lake.write(rel, body)
    faulty = proxy(fault_rate=FAULT_RATE, seed=5)

    result = run(
        routine(
            parent_directory=str(lake.landing),
            dump_directory="s3://lake/staging/",
            archive_directory="s3://lake/archive/",
            endpoint_url=faulty.url,
        )
    )

    assert result.status == "succeeded", result.tasks
    assert_faults_were_injected(faulty)
    conditional_lost = [
        r
        for r in faulty.requests
        if r.operation == "PutObject"
        and r.key.startswith("archive/")
        and r.fault in ("lost_reply", "late_error")
    ]
    assert conditional_lost  # the nasty case did happen
    assert lake.files(lake.landing) == {}
    assert bucket.stored("staging/") == originals
    assert bucket.stored("archive/") == originals


def test_s3_to_local_under_faults(bucket, routine, run, proxy, retries, lake):
    originals = {f"o{i:03}.csv": f"id\n{i}\n".encode() for i in range(SMALL)}
    originals["big.bin"] = os.urandom(11 * MiB)  # ranged GETs
    for rel, body in originals.items():
        bucket.fill([f"landing/{rel}"], body)
    faulty = proxy(fault_rate=FAULT_RATE, seed=7)

    result = run(
        routine(
            parent_directory="s3://lake/landing/",
            dump_directory=str(lake.staging),
            archive_or_delete="delete",
            endpoint_url=faulty.url,
            storage_options={"multipart_chunksize": 5 * MiB},
        )
    )

    assert result.status == "succeeded", result.tasks
    assert_faults_were_injected(faulty)
    assert lake.files(lake.staging) == originals
    assert bucket.stored("landing/") == {}
