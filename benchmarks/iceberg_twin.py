"""The Iceberg speed goals on the DuckDB twin, each measured beside its anchor in one run.

- ``append``: ``--files`` staged Parquet files (``--rows`` rows in all) appended by
  reference (``iceberg_append`` with ``mode: reference``, pyiceberg ``add_files``) against
  the same files rewritten (``mode: rewrite``). Goal: at least 10x faster.
- ``upsert``: ``--upsert-rows`` rows on as many keys merged into a table of as many rows,
  half of them new, through ``iceberg_merge`` against plain pyiceberg ``Table.upsert`` on a
  copy of the same table (stopped after ``--anchor-timeout`` seconds). Goal: under 60 s.
- ``compact``: ``--small-files`` small files compacted into 128 MB files by
  ``iceberg_maintain`` against a plain pyarrow rewrite of the same files (read them all,
  write files of 128 MB with the table's codec, zstd), ``--rounds`` pairs in alternating
  order, paired medians of wall and CPU time. Goal: at least as fast.

Run by hand: ``.venv/bin/python benchmarks/iceberg_twin.py [append|upsert|compact ...]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

TABLE = {
    "name": "events",
    "format": "iceberg",
    "columns": {"id": "bigint", "kind": "string", "amount": "double"},
}


def write_files(folder: Path, files: int, rows: int, first: int = 0) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    per = rows // files
    for number in range(files):
        start = first + number * per
        ids = pa.array(range(start, start + per), pa.int64())
        table = pa.table(
            {
                "id": ids,
                "kind": pa.array([f"k{i % 7}" for i in range(per)], pa.string()),
                "amount": pa.array([float(i % 1000) for i in range(per)], pa.float64()),
            }
        )
        pq.write_table(table, folder / f"part-{number:05}.parquet")


def run_tasks(root: Path, tasks: list[Any], name: str) -> tuple[float, Any]:
    from lakeroutine.orchestrator import run_routine
    from lakeroutine.plugins import load_plugins

    routine = {
        "routine_name": name,
        "executors": {
            "lake": {
                "executor": "DuckDBExecutor",
                "params": {"database": "lake.duckdb", "schema": "bench"},
                "tasks": tasks,
            }
        },
    }
    path = root / f"{name}.json"
    path.write_text(json.dumps(routine))
    registry = load_plugins()
    started = time.perf_counter()
    result = run_routine(path, registry=registry)
    elapsed = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"{name} failed: {[t.error for t in result.tasks]}")
    return elapsed, result


def create(root: Path, name: str, table: dict[str, Any] | None = None) -> None:
    run_tasks(root, [{"task": "iceberg_create_table", "args": {"table": table or TABLE}}], name)


def bench_append(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("reference", "rewrite"):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_files(root / "staged", args.files, args.rows)
            create(root, "create")
            task = {
                "task": "iceberg_append",
                "args": {"table": "events", "files": "staged/", "mode": mode},
            }
            out[mode], _ = run_tasks(root, [task], f"append_{mode}")
    out["ratio"] = out["rewrite"] / out["reference"]
    return out


def _plain_upsert(root: str, source: str, queue: Any) -> None:
    import pyarrow.parquet as pq
    from lakeroutine_iceberg.targets import twin_catalog

    table = twin_catalog(Path(root) / "lake.duckdb").load_table(("bench", "events"))
    rows = pq.read_table(source).cast(table.schema().as_arrow())  # id required, as keyed
    started = time.perf_counter()
    table.upsert(rows, join_cols=["id"])
    queue.put(time.perf_counter() - started)


def bench_upsert(args: argparse.Namespace) -> dict[str, Any]:
    n = args.upsert_rows
    out: dict[str, Any] = {"rows": n}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_files(root / "base", 10, n)
        write_files(root / "changes", 1, n, first=n // 2)  # half updates, half inserts
        keyed = {**TABLE, "identifier_columns": ["id"]}
        create(root, "create", keyed)
        run_tasks(
            root,
            [{"task": "iceberg_append", "args": {"table": "events", "files": "base/"}}],
            "base",
        )
        shutil.copytree(root, root.parent / f"{root.name}-anchor")
        merge = {
            "task": "iceberg_merge",
            "args": {"table": "events", "files": "changes/", "keys": ["id"]},
        }
        out["lakeroutine_merge_s"], result = run_tasks(root, [merge], "merge")
        out["merge_output"] = result.tasks[0].output
        print(json.dumps({"upsert_ours": out}, default=str), flush=True)
        anchor = root.parent / f"{root.name}-anchor"
        queue: Any = multiprocessing.Queue()
        source = str(root / "changes" / "part-00000.parquet")
        process = multiprocessing.Process(target=_plain_upsert, args=(str(anchor), source, queue))
        process.start()
        process.join(args.anchor_timeout)
        if process.is_alive():
            process.kill()
            process.join()
            out["pyiceberg_upsert_s"] = f"> {args.anchor_timeout} (stopped)"
        else:
            out["pyiceberg_upsert_s"] = queue.get()
        shutil.rmtree(anchor, ignore_errors=True)
    return out


def _cpu_s() -> float:
    """CPU seconds this process has used, every thread (DuckDB's and Arrow's included)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _pyarrow_rewrite(small: Path, out: Path) -> None:
    """The anchor: read every small file, write 128 MB files with the table's codec (zstd)."""
    import pyarrow.dataset as ds

    data = ds.dataset(small, format="parquet").to_table()
    target = 128 * 1024 * 1024
    rows_per_file = max(1, int(target / max(1, data.nbytes / max(1, data.num_rows))))
    options = ds.ParquetFileFormat().make_write_options(compression="zstd")
    ds.write_dataset(
        data,
        out,
        format="parquet",
        file_options=options,
        max_rows_per_file=rows_per_file,
        max_rows_per_group=min(rows_per_file, 1 << 20),
    )


def bench_compact(args: argparse.Namespace) -> dict[str, Any]:
    """``--rounds`` pairs, the order alternating; each of ours on a fresh table holding the
    same small files (registered by reference, so the setup is untimed and cheap)."""
    import statistics

    maintain = {
        "task": "iceberg_maintain",
        "args": {"table": "events", "compact": {"target_file_mb": 128, "min_small_files": 5}},
    }
    load = [{"task": "iceberg_append", "args": {"table": "events", "files": "../small/"}}]
    timings: dict[str, list[tuple[float, float]]] = {"lakeroutine": [], "pyarrow": []}
    out: dict[str, Any] = {"files": args.small_files, "rows": args.small_files * args.rows_per_file}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        write_files(base / "small", args.small_files, out["rows"])
        for number in range(args.rounds):
            order = ["lakeroutine", "pyarrow"] if number % 2 == 0 else ["pyarrow", "lakeroutine"]
            for which in order:
                root = base / f"{which}-{number}"
                root.mkdir()
                if which == "lakeroutine":
                    create(root, "create")
                    run_tasks(root, load, "load")
                cpu, started = _cpu_s(), time.perf_counter()
                if which == "lakeroutine":
                    _elapsed, result = run_tasks(root, [maintain], "compact")
                    out["compaction"] = result.tasks[0].output["compaction"]
                else:
                    _pyarrow_rewrite(base / "small", root / "out")
                timings[which].append((time.perf_counter() - started, _cpu_s() - cpu))
                shutil.rmtree(root)
    for which, pairs in timings.items():
        out[f"{which}_wall_s"] = round(statistics.median(w for w, _ in pairs), 3)
        out[f"{which}_cpu_s"] = round(statistics.median(c for _, c in pairs), 3)
    ratios = [a[0] / b[0] for a, b in zip(timings["lakeroutine"], timings["pyarrow"], strict=True)]
    cpu_ratios = [
        a[1] / b[1] for a, b in zip(timings["lakeroutine"], timings["pyarrow"], strict=True)
    ]
    out["wall_ratio_paired_median"] = round(statistics.median(ratios), 3)
    out["cpu_ratio_paired_median"] = round(statistics.median(cpu_ratios), 3)
    out["load_average"] = os.getloadavg()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("which", nargs="*", default=["append", "upsert", "compact"])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--upsert-rows", type=int, default=1_000_000)
    parser.add_argument("--anchor-timeout", type=float, default=600)
    parser.add_argument("--small-files", type=int, default=1000)
    parser.add_argument("--rows-per-file", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7, help="compact: pairs of runs")
    args = parser.parse_args()
    report: dict[str, Any] = {"python": platform.python_version()}
    benches = {"append": bench_append, "upsert": bench_upsert, "compact": bench_compact}
    for name in args.which:
        report[name] = benches[name](args)
        print(json.dumps({name: report[name]}, default=str), flush=True)


if __name__ == "__main__":
    main()
