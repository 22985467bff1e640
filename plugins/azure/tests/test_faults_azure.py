"""Staging through a loopback proxy that answers 30% of Azure Blob requests with 503, 500 or
a dropped connection, before or after forwarding them (the request landed, the reply was
lost). The routine still ends with every blob staged exactly once, archived once, and
nothing lost."""

from __future__ import annotations

import os

import pytest
from staging_support import EARLIER, assert_archived_beside_earlier

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
SMALL = 120
FAST_RETRIES = {"retry_total": 30, "retry_initial_backoff": 0, "retry_increment_base": 0}


def assert_faults_were_injected(proxy) -> None:
    total, faults = proxy.count(), proxy.fault_counts()
    assert sum(faults.values()) >= 0.2 * total, (faults, total)
    assert set(faults) == {"unavailable", "internal", "drop", "lost_reply", "late_error"}


def test_azure_to_azure_under_faults(container, az_via, routine, run):
    originals = {f"d{i % 3}/o{i:03}.csv": f"id\n{i}\n".encode() for i in range(SMALL)}
    for rel, body in originals.items():
        container.put(f"landing/{rel}", body)
    container.put("landing_archive/d0/o000.csv", EARLIER)
    proxy = az_via(fault_rate=0.3, seed=3)
    result = run(
        routine(
            parent_directory="az://lake/landing/",
            dump_directory="az://lake/staging/",
            storage_options={"az": FAST_RETRIES},
        )
    )
    assert result.status == "succeeded", result.tasks
    assert_faults_were_injected(proxy)
    landed_twice = [
        r
        for r in proxy.requests
        if r.operation == "copy" and r.fault in ("lost_reply", "late_error")
    ]
    assert any("landing_archive" in r.path for r in landed_twice)
    assert container.objects("landing/") == {}
    assert container.objects("staging/") == originals
    assert_archived_beside_earlier(container.objects("landing_archive/"), originals, "d0/o000.csv")


def test_local_to_azure_with_an_azure_archive_under_faults(container, az_via, routine, run, lake):
    """Uploads in blocks, and create-only archive uploads whose reply was lost: the retry is
    refused although the first write landed; the file is archived once."""
    originals = {f"d{i % 3}/o{i:03}.csv": f"id\n{i}\n".encode() for i in range(SMALL)}
    originals["big.bin"] = os.urandom(3 * MiB)  # blocks, committed create-only
    for rel, body in originals.items():
        lake.write(rel, body)
    proxy = az_via(fault_rate=0.3, seed=5)
    options = {**FAST_RETRIES, "max_single_put_size": MiB, "max_block_size": 256 * 1024}
    result = run(
        routine(
            parent_directory=str(lake.landing),
            dump_directory="az://lake/staging/",
            archive_directory="az://lake/archive/",
            storage_options={"az": options},
        )
    )
    assert result.status == "succeeded", result.tasks
    assert_faults_were_injected(proxy)
    assert any(
        r.operation == "put_blob"
        and "/archive/" in r.path
        and r.fault in ("lost_reply", "late_error")
        for r in proxy.requests
    )
    assert lake.files(lake.landing) == {}
    assert container.objects("staging/") == originals
    assert container.objects("archive/") == originals


def test_azure_to_local_under_faults(container, az_via, routine, run, lake):
    originals = {f"o{i:03}.csv": f"id\n{i}\n".encode() for i in range(SMALL)}
    originals["big.bin"] = os.urandom(3 * MiB)  # ranged GETs
    for rel, body in originals.items():
        container.put(f"landing/{rel}", body)
    proxy = az_via(fault_rate=0.3, seed=7)
    result = run(
        routine(
            parent_directory="az://lake/landing/",
            dump_directory=str(lake.staging),
            archive_or_delete="delete",
            storage_options={"az": FAST_RETRIES},
        )
    )
    assert result.status == "succeeded", result.tasks
    assert_faults_were_injected(proxy)
    assert lake.files(lake.staging) == originals
    assert container.objects("landing/") == {}
