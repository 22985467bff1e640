"""Ten data quality checks on a 10-million-row table: compiled into one query (what the
``check`` task runs) against one ``count(*)`` scan and against the same checks run one query
each (the way dbt tests and Soda's per-check queries work), all on DuckDB, side by side in
one process, best of ``--repeat``.

The table is a DuckDB view over Parquet files, as ``create_table`` makes it. DuckDB answers
``count(*)`` on Parquet from the files' metadata without reading a column, so two anchors are
timed: that metadata count, and a ``count(*)`` that must read the checked columns
(``count(*) ... WHERE`` a condition on each), the cheapest real pass over those columns.
Beside the time, each approach's bytes read are counted the way Athena bills them: the
compressed size of every Parquet column chunk a query reads (columns found by parsing the
SQL with sqlglot), at least 10 MB per query. Run by hand:
``.venv/bin/python benchmarks/checks_one_scan.py [--rows 10000000]``.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import duckdb
from lakeroutine.sql.check_sql import compile_checks
from lakeroutine.sql.checks import CheckArgs

CHECKS = [
    {"kind": "row_count", "min": 1},
    {"kind": "not_null", "column": "customer_id"},
    {"kind": "unique", "column": "id"},
    {"kind": "accepted_values", "column": "status", "values": ["new", "paid", "shipped"]},
    {"kind": "range", "column": "amount", "min": 0, "max": 1000},
    {"kind": "regex", "column": "email", "pattern": "^[a-z0-9]+@[a-z]+[.]com$"},
    {"kind": "freshness", "column": "created_at", "max_age_hours": 24},
    {"kind": "not_null", "column": "email"},
    {"kind": "range", "column": "customer_id", "min": 0, "max": 1000000},
    {"kind": "accepted_values", "name": "status_not_lost", "column": "status",
     "values": ["new", "paid", "shipped", "returned"]},
]  # fmt: skip
COLUMNS = ["id", "customer_id", "status", "amount", "email", "created_at"]


def make_table(root: Path, rows: int, files: int) -> duckdb.DuckDBPyConnection:
    """``files`` Parquet files of ``rows`` orders in all, and a view over them."""
    con = duckdb.connect(str(root / "bench.duckdb"))
    per = rows // files
    for number in range(files):
        target = root / "orders" / f"part-{number}.parquet"
        target.parent.mkdir(exist_ok=True)
        start = number * per
        con.execute(
            "COPY (SELECT i AS id, (i * 7919) % 1000000 AS customer_id, "
            "['new', 'paid', 'shipped'][1 + i % 3] AS status, (i % 100000) / 100.0 AS amount, "
            "'u' || (i % 50000) || '@mail.com' AS email, "
            "TIMESTAMP '2024-01-01' + to_seconds(i % 86400) AS created_at "
            f"FROM range({start}, {start + per}) t(i)) TO '{target}' (FORMAT parquet)"
        )
    con.execute(
        "CREATE OR REPLACE VIEW orders AS SELECT * FROM "
        f"read_parquet('{root / 'orders' / '*.parquet'}')"
    )
    return con


def column_bytes(con: duckdb.DuckDBPyConnection, root: Path) -> dict[str, int]:
    """Compressed bytes of each column over all the table's files."""
    glob = root / "orders" / "*.parquet"
    rows = con.execute(
        "SELECT path_in_schema, sum(total_compressed_size) FROM "
        f"parquet_metadata('{glob}') GROUP BY ALL"
    ).fetchall()
    return {str(name): int(size) for name, size in rows}


def billed(queries: list[str], sizes: dict[str, int]) -> int:
    """Athena's bill for ``queries``: columns read, at least 10 MB a query."""
    import sqlglot
    from sqlglot import exp

    total = 0
    for sql in queries:
        names = {c.name for c in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Column)}
        total += max(sum(sizes.get(n, 0) for n in names), 10 * 2**20)
    return total


def best(con: duckdb.DuckDBPyConnection, queries: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for sql in queries:
            con.execute(sql).fetchall()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lakeroutine-bench-") as tmp:
        con = make_table(Path(tmp), options.rows, options.files)
        args = CheckArgs.model_validate({"table": "orders", "checks": CHECKS})
        one = compile_checks(args, table_sql="orders", dialect="duckdb").query
        each = [
            compile_checks(
                CheckArgs.model_validate({"table": "orders", "checks": [check]}),
                table_sql="orders",
                dialect="duckdb",
            ).query
            for check in CHECKS
        ]
        reading = " OR ".join(f"{c} IS NULL" for c in COLUMNS)
        anchors = {
            "count(*) (Parquet metadata)": ["SELECT count(*) FROM orders"],
            "count(*) reading the 6 checked columns": [
                f"SELECT count(*) FROM orders WHERE NOT ({reading})"
            ],
        }
        plans = {**anchors, "10 checks, one query (check task)": [one],
                 "10 checks, one query each": each}  # fmt: skip
        sizes = column_bytes(con, Path(tmp))
        results = {name: best(con, sql, options.repeat) for name, sql in plans.items()}
        bills = {name: billed(sql, sizes) for name, sql in plans.items()}
        con.close()
    print(f"{options.rows:,} rows in {options.files} Parquet files; duckdb {duckdb.__version__}, "
          f"{platform.python_implementation()} {platform.python_version()}, best of "
          f"{options.repeat}")  # fmt: skip
    anchor = results["count(*) reading the 6 checked columns"]
    bill = bills["count(*) reading the 6 checked columns"]
    for name, seconds in results.items():
        print(
            f"  {name:42s} {seconds:7.3f} s {seconds / anchor:5.2f}x | billed as on Athena "
            f"{bills[name] / 2**20:8.1f} MB {bills[name] / bill:5.2f}x the column scan"
        )


if __name__ == "__main__":
    main()
