"""Ten data quality checks on a 10-million-row table: compiled into one query (what the
``check`` task runs) against the issue's anchor, one ``count(*)`` scan, and against the same
checks run one query each (the way dbt tests and Soda's per-check queries work), all on
DuckDB, side by side in one process: every round runs each case once, the order reversed
every other round; medians of wall and CPU time and of each round's ratio to the anchor.

The table is a DuckDB view over Parquet files, as ``create_table`` makes it. DuckDB answers
a bare ``count(*)`` on Parquet from the files' metadata without reading a column (shown, 4 ms),
so the anchor is the ``count(*)`` scan that reads the checked columns (``count(*) ... WHERE``
a condition on each), the cheapest real pass over them. Each check case runs what the task
runs before judging: on DuckDB, a ``unique`` check on an integer key first reads the key's
range (``min``/``max``, one column) and the scan counts the keys in a bitmap. Beside them:
the eight checks that are plain row scans (no ``unique``, no ``regex``), the nine without
the ``regex``, and floors: the ``unique`` check alone as the task runs it, DuckDB's own
``count(DISTINCT id)`` alone (how ``unique`` compiled before, and still on Athena and
Redshift), and the ``regex`` check alone (RE2 run on every value). Beside the time, each
approach's bytes read are counted the way Athena bills them: the compressed size of every
Parquet column chunk a query reads (columns found by parsing the SQL with sqlglot), at least
10 MB per query (Athena runs no bounds query: ``count(DISTINCT)`` there). Run by hand:
``.venv/bin/python benchmarks/checks_one_scan.py [--rows 10000000] [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import duckdb
from lakeroutine.sql.check_sql import CompiledChecks, compile_checks
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


@dataclass(frozen=True)
class CheckTask:
    """What the ``check`` task runs for ``checks`` before judging: on DuckDB, the bounds
    query of its ``unique`` keys if any, then the scan."""

    checks: list[dict]

    def compiled(self, dialect: str = "duckdb") -> CompiledChecks:
        args = CheckArgs.model_validate({"table": "orders", "checks": self.checks})
        return compile_checks(args, table_sql="orders", dialect=dialect)  # type: ignore[arg-type]

    def run(self, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
        compiled = self.compiled()
        if compiled.bounds_query is not None:
            compiled.use_bounds(list(con.execute(compiled.bounds_query).fetchall()[0]))
        return row(con, compiled.query)


def row(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, object]:
    """The one row of ``sql``, by column."""
    cursor = con.execute(sql)
    return dict(zip([d[0] for d in cursor.description or []], cursor.fetchone() or (), strict=True))


Step = str | CheckTask
"""A query, or a check task's queries."""


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


def billed(queries: list[Step], sizes: dict[str, int]) -> int:
    """Athena's bill for ``queries``: columns read, at least 10 MB a query (a check task
    billed for its scan as Athena compiles it: no bounds query there)."""
    import sqlglot
    from sqlglot import exp

    total = 0
    for sql in queries:
        if isinstance(sql, CheckTask):
            sql = sql.compiled("trino").query
        names = {c.name for c in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Column)}
        total += max(sum(sizes.get(n, 0) for n in names), 10 * 2**20)
    return total


def timed(con: duckdb.DuckDBPyConnection, queries: list[Step]) -> tuple[float, float]:
    """Wall and CPU seconds (every thread of the process) to run ``queries``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for sql in queries:
        if isinstance(sql, CheckTask):
            sql.run(con)
        else:
            con.execute(sql).fetchall()
    return time.perf_counter() - wall, time.process_time() - cpu


def rounds(
    con: duckdb.DuckDBPyConnection, plans: dict[str, list[Step]], repeat: int
) -> list[dict[str, tuple[float, float]]]:
    """Each plan once a round, the order reversed every other round."""
    names = list(plans)
    found = []
    for number in range(repeat):
        order = names if number % 2 == 0 else names[::-1]
        found.append({name: timed(con, plans[name]) for name in order})
    return found


ANCHOR = "count(*) scan reading the 6 checked columns"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lakeroutine-bench-") as tmp:
        con = make_table(Path(tmp), options.rows, options.files)

        reading = " OR ".join(f"{c} IS NULL" for c in COLUMNS)
        scans = [c for c in CHECKS if c["kind"] not in ("unique", "regex")]
        plans: dict[str, list[Step]] = {
            "count(*) from Parquet metadata": ["SELECT count(*) FROM orders"],
            ANCHOR: [f"SELECT count(*) FROM orders WHERE NOT ({reading})"],
            "10 checks, one query (check task)": [CheckTask(CHECKS)],
            "10 checks, one query each": [CheckTask([check]) for check in CHECKS],
            "10 checks, one query, unique hashed (before)": [CheckTask(CHECKS).compiled().query],
            "8 row-scan checks (no unique, no regex)": [CheckTask(scans)],
            "9 checks: all but the regex": [CheckTask([c for c in CHECKS if c["kind"] != "regex"])],
            "the unique check alone (bitmap)": [CheckTask([CHECKS[2]])],
            "floor: count(DISTINCT id) alone": [
                "SELECT count(id) - count(DISTINCT id) FROM orders"
            ],
            "floor: the regex check alone": [CheckTask([CHECKS[5]])],
        }
        timed(con, [sql for queries in plans.values() for sql in queries])  # warm the cache
        found = rounds(con, plans, options.repeat)
        hashed = row(con, CheckTask(CHECKS).compiled().query)
        bitmap = CheckTask(CHECKS).run(con)
        same = all(bitmap[name] == value for name, value in hashed.items())
        bills = {name: billed(sql, column_bytes(con, Path(tmp))) for name, sql in plans.items()}
        con.close()
    print(f"{options.rows:,} rows in {options.files} Parquet files; duckdb {duckdb.__version__}, "
          f"{platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; medians of "
          f"{options.repeat} alternating rounds (ratios paired by round); counts as hashed: "
          f"{'same' if same else 'DIFFERENT'}")  # fmt: skip
    print(f"  {'':44s} {'wall s':>7s} {'x anchor':>8s} {'CPU s':>7s} {'x anchor':>8s} "
          f"{'billed MB':>10s} {'x anchor':>8s}")  # fmt: skip
    for name in plans:
        wall = median(r[name][0] for r in found)
        cpu = median(r[name][1] for r in found)
        wall_x = median(r[name][0] / r[ANCHOR][0] for r in found)
        cpu_x = median(r[name][1] / max(r[ANCHOR][1], 1e-9) for r in found)
        print(f"  {name:44s} {wall:7.3f} {wall_x:8.2f} {cpu:7.3f} {cpu_x:8.2f} "
              f"{bills[name] / 2**20:10.1f} {bills[name] / bills[ANCHOR]:8.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
