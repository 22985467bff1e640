"""What the DuckDBExecutor adds to DuckDB: a table over partitioned Parquet and one query.

Writes ``--partitions`` hive-style folders of Parquet (``--rows`` rows in all) into a
temporary folder, then times, best of ``--repeat``:

- raw DuckDB: the view and the query, by hand, on a fresh database file;
- the DuckDBExecutor: the same through ``run_routine`` (validation, state, plugins, report),
  with the rows written to a CSV file by ``run_query``'s ``output``;

and prints both with the difference. Run by hand:
``.venv/bin/python benchmarks/duckdb_table_query.py [--rows 1000000] [--partitions 50]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

SQL = (
    "SELECT dt, count(*) AS n, round(sum(amount), 2) AS revenue FROM sales GROUP BY dt ORDER BY dt"
)


def make_lake(root: Path, rows: int, partitions: int) -> None:
    """``partitions`` folders ``dt=2024-01-NN`` with one Parquet file each."""
    con = duckdb.connect()
    per = rows // partitions
    for number in range(partitions):
        folder = root / "sales" / f"dt=2024-{1 + number // 28:02d}-{1 + number % 28:02d}"
        folder.mkdir(parents=True)
        con.execute(
            f"COPY (SELECT 'n' || (i % 97) AS name, (i % 1000) / 10.0 AS amount "
            f"FROM range({per}) t(i)) TO '{folder / 'part-0.parquet'}' (FORMAT parquet)"
        )
    con.close()


def raw(root: Path, work: Path) -> float:
    started = time.perf_counter()
    con = duckdb.connect(str(work / "raw.duckdb"))
    glob = root / "sales" / "**" / "*.parquet"
    con.execute(
        "CREATE OR REPLACE VIEW sales AS SELECT CAST(name AS VARCHAR) AS name, "
        "CAST(amount AS DOUBLE) AS amount, CAST(dt AS DATE) AS dt "
        f"FROM read_parquet('{glob}', hive_partitioning = true)"
    )
    con.execute(f"COPY ({SQL}) TO '{work / 'raw.csv'}' (FORMAT csv, HEADER true)")
    con.close()
    return time.perf_counter() - started


def executor(root: Path, work: Path) -> float:
    from lakeroutine import run_routine

    routine = {
        "routine_name": "bench",
        "executors": {
            "DuckDBExecutor": {
                "params": {"database": "exec.duckdb"},
                "tasks": [
                    {
                        "task": "create_table",
                        "args": {
                            "if_exists": "replace",
                            "table": {
                                "name": "sales",
                                "columns": {"name": "string", "amount": "double"},
                                "partitioned_by": {"dt": "date"},
                                "location": str(root / "sales"),
                            },
                        },
                    },
                    {"task": "run_query", "args": {"sql": SQL, "output": "exec.csv"}},
                ],
            }
        },
    }
    path = work / "routine.json"
    path.write_text(json.dumps(routine))
    started = time.perf_counter()
    result = run_routine(path)
    elapsed = time.perf_counter() - started
    assert result.status == "succeeded", [t.error for t in result.tasks]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lakeroutine-bench-") as tmp:
        root = Path(tmp)
        make_lake(root, args.rows, args.partitions)
        timings: dict[str, list[float]] = {"raw DuckDB": [], "DuckDBExecutor": []}
        for _ in range(args.repeat):
            timings["raw DuckDB"].append(raw(root, root))
            timings["DuckDBExecutor"].append(executor(root, root))
        same = (root / "raw.csv").read_text() == (root / "exec.csv").read_text()
    print(
        f"{args.rows:,} rows in {args.partitions} partitions; Python {platform.python_version()}, "
        f"duckdb {duckdb.__version__}, best and median of {args.repeat}; same answer: {same}"
    )
    for name, values in timings.items():
        print(
            f"  {name:15} best {min(values) * 1000:7.1f} ms  median "
            f"{statistics.median(values) * 1000:7.1f} ms"
        )
    overhead = min(timings["DuckDBExecutor"]) - min(timings["raw DuckDB"])
    print(f"  executor adds  {overhead * 1000:7.1f} ms (validation, state, plugins, report)")


if __name__ == "__main__":
    main()
