"""Peak Python memory while listing a GCS bucket or an Azure container, streamed, against
holding the whole listing: the listing must stay flat however many objects there are.

Lands ``--objects`` empty objects (100,000 by default) on fake-gcs-server or Azurite, then
lists them with the storage's ``list_files`` (measured with tracemalloc) twice: streamed
(each entry dropped once seen) and held in a list.

    .venv/bin/python benchmarks/remote_listing_memory.py gcs|azure [--objects 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from remote_staging import service


def measure(storage, url: str, hold: bool) -> tuple[int, float, float]:
    """(entries, seconds, peak MiB) of one listing."""
    tracemalloc.start()
    started = time.perf_counter()
    held = []
    count = 0
    for info in storage.list_files(url):
        count += 1
        if hold:
            held.append(info)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return count, elapsed, peak / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("service", choices=["gcs", "azure"])
    parser.add_argument("--objects", type=int, default=100_000)
    args = parser.parse_args()
    with service(args.service) as target:
        started = time.perf_counter()
        target.land("m", args.objects, b"")
        print(f"landed {args.objects} objects in {time.perf_counter() - started:.0f} s")
        if args.service == "gcs":
            from lakeroutine_gcs.storage import GcsStorage

            storage = GcsStorage()
        else:
            from lakeroutine_azure.storage import AzureStorage

            storage = AzureStorage()
        url = target.url("m")
        measure(storage, url, hold=False)  # first-use allocations (client, pools)
        print("| listing | seconds | peak MiB allocated |")
        print("| --- | ---: | ---: |")
        for hold in (False, True):
            count, seconds, peak = measure(storage, url, hold)
            assert count == args.objects, count
            how = "all held in a list" if hold else "streamed"
            print(f"| {count:,} objects, {how} | {seconds:.1f} | {peak:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
