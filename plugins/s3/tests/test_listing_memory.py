"""Listing is streamed: the memory it takes does not grow with the number of objects.

The emulator runs in its own process (its own allocations must not count), filled straight
through its backend by the server script of ``benchmarks/s3_listing_memory.py``; this process
lists over HTTP and measures its peak allocations with tracemalloc."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCHMARK = Path(__file__).resolve().parents[3] / "benchmarks" / "s3_listing_memory.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("s3_listing_memory_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_listing_memory_stays_flat(monkeypatch):
    benchmark = load_benchmark()
    server = subprocess.Popen(
        [sys.executable, "-c", benchmark.SERVER, "10000"],  # 10,000 keys and 1,000 keys
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        for key, value in {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        from lakeroutine_s3.storage import S3Storage

        storage = S3Storage(endpoint_url=url)
        storage.client.head_bucket(Bucket="mem")

        def streamed(prefix: str) -> tuple[float, float, int]:
            # The lower of two peaks: tracemalloc also counts whatever other threads of the
            # test process allocate meanwhile, which only ever adds.
            runs = [
                benchmark.measure(lambda: sum(1 for _ in storage.list_files(prefix)))
                for _ in range(2)
            ]
            return min(runs, key=lambda r: r[1])

        _, small_peak, small = streamed("s3://mem/small/")
        _, large_peak, large = streamed("s3://mem/large/")
        _, held_peak, held = benchmark.measure(lambda: list(storage.list_files("s3://mem/large/")))
    finally:
        server.kill()
        server.wait()

    assert (small, large, len(held)) == (1000, 10000, 10000)
    assert large_peak < 1.3 * small_peak  # ten times the objects, about the same memory
    assert large_peak < 0.8 * held_peak  # while holding the listing would cost more
