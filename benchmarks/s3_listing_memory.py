"""Memory of listing an S3 prefix: flat whatever the number of objects.

A moto server runs in a separate process whose backend is filled directly (fast) with
``--objects`` keys (100,000 by default) under one prefix and a tenth of that under another.
This process then walks each prefix with ``S3Storage.list_files`` (paginated, streamed: one
page of 1,000 keys in memory at a time) and reports the time and the peak of Python memory
it allocated while doing so (``tracemalloc``), next to the peak of holding the whole listing
in a list, which is what a non-streamed listing costs.

    .venv/bin/python benchmarks/s3_listing_memory.py [--objects 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

SERVER = """
import logging, sys
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from moto.server import ThreadedMotoServer

logging.getLogger("werkzeug").setLevel(logging.ERROR)
objects = int(sys.argv[1])
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
backend.create_bucket("mem", "us-east-1")
for prefix, count in (("large", objects), ("small", objects // 10)):
    for i in range(count):
        backend.put_object("mem", f"{prefix}/d{i % 100:02}/obj{i:07}.csv", b"x" * 100)
host, port = server.get_host_and_port()
print(f"http://{host}:{port}", flush=True)
sys.stdin.read()
"""


def measure(action: Callable[[], Any]) -> tuple[float, float, Any]:
    """Seconds and peak MiB that ``action`` allocated (tracemalloc), and its result."""
    tracemalloc.start()
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return elapsed, peak, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=100_000)
    args = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(args.objects)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    from lakeroutine_s3.storage import S3Storage

    storage = S3Storage(endpoint_url=url)
    storage.client.head_bucket(Bucket="mem")  # build the client outside the measurement

    rows = []
    try:
        for prefix, count in (("small", args.objects // 10), ("large", args.objects)):
            location = f"s3://mem/{prefix}/"
            seconds, peak, seen = measure(
                lambda loc=location: sum(1 for _ in storage.list_files(loc))
            )
            assert seen == count, (seen, count)
            rows.append((f"{count:,} keys, streamed", seconds, peak))
            seconds, peak, held = measure(lambda loc=location: list(storage.list_files(loc)))
            assert len(held) == count
            del held
            rows.append((f"{count:,} keys, all held in a list", seconds, peak))
    finally:
        server.kill()

    print(f"listing with S3Storage.list_files against moto (python {sys.version.split()[0]})\n")
    print("| listing | seconds | peak MiB allocated |")
    print("| --- | ---: | ---: |")
    for name, seconds, peak in rows:
        print(f"| {name} | {seconds:.1f} | {peak:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
