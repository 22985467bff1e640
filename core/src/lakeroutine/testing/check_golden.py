"""A golden set for data quality checks: two small tables with known defects, the checks a
routine declares on them and the verdicts and counts every engine must give (written by
hand from the rows below, not computed by lakeroutine). The DuckDB twin and the Athena
dialect tests both use it, so the two cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ORDER_COLUMNS = ("id", "customer_id", "status", "amount", "email", "created_at")
ORDERS: list[tuple[Any, ...]] = [
    (1, 10, "new", 10.0, "a@x.com", "2024-01-01 09:00:00"),
    (2, 10, "paid", 20.0, "b@x.com", "2024-01-02 09:00:00"),
    (2, 11, "paid", 30.0, "c@x.com", "2024-01-02 10:00:00"),  # id 2 twice
    (3, None, "new", 40.0, "d@x.com", "2024-01-03 09:00:00"),  # no customer
    (4, 11, "lost", 50.0, "e@x.com", "2024-01-03 10:00:00"),  # status not accepted
    (5, 12, "shipped", -5.0, "f@x.com", "2024-01-04 09:00:00"),  # amount below 0
    (6, 12, "shipped", 5000.0, "g@x.com", "2024-01-04 10:00:00"),  # amount above 1000;
    # (12, shipped) twice
    (7, 99, "paid", 60.0, "h@x.com", "2024-01-04 11:00:00"),  # customer 99 unknown
    (8, 13, "new", 70.0, "bad-email", "2024-01-05 08:00:00"),  # email malformed
    (9, 13, "paid", 80.0, None, "2024-01-05 09:00:00"),  # no email: passes the regex
    (10, 14, "new", 950.0, "j@x.com", "2024-01-05 12:00:00"),  # a big new order
    (11, 14, "shipped", 90.0, "k@x.com", "2024-01-05 17:30:00"),  # newest: a Friday
]
CUSTOMERS = [(10, "ana"), (11, "bob"), (12, "carla"), (13, "dan"), (14, "eve")]

ORDERS_SPEC = {
    "name": "orders",
    "columns": {
        "id": "int",
        "customer_id": "int",
        "status": "string",
        "amount": "double",
        "email": "string",
        "created_at": "timestamp",
    },
}
CUSTOMERS_SPEC = {"name": "customers", "columns": {"id": "int", "name": "string"}}

CHECKS: list[dict[str, Any]] = [
    {"kind": "row_count", "min": 5, "max": 100},
    {"kind": "not_null", "column": "customer_id"},
    {"kind": "unique", "column": "id"},
    {
        "kind": "unique",
        "name": "unique_customer_status",
        "columns": ["customer_id", "status"],
        "severity": "warn",
    },
    {
        "kind": "accepted_values",
        "column": "status",
        "values": ["new", "paid", "shipped"],
        "severity": "warn",
    },
    {"kind": "range", "column": "amount", "min": 0, "max": 1000, "max_failing": 2},
    {
        "kind": "regex",
        "column": "email",
        "pattern": "^[^@]+@[^@]+[.][a-z]+$",
        "max_failing_percent": 5,
    },
    {
        "kind": "freshness",
        "name": "fresh_business_days",
        "column": "created_at",
        "max_age_business_days": 1,
        "as_of": "2024-01-08T10:00:00Z",
    },
    {
        "kind": "freshness",
        "name": "fresh_hours",
        "column": "created_at",
        "max_age_hours": 24,
        "as_of": "2024-01-08T10:00:00Z",
        "severity": "warn",
    },
    {"kind": "relationship", "column": "customer_id", "to_table": "customers", "to_column": "id"},
    {"kind": "schema", "columns": {"id": "int", "status": "string", "amount": "double"}},
    {
        "kind": "schema",
        "name": "schema_exact",
        "columns": {"id": "int"},
        "exact": True,
        "severity": "warn",
    },
    {
        "kind": "custom_sql",
        "name": "big_new_orders",
        "sql": "SELECT id FROM orders WHERE status = 'new' AND amount > 900",
    },
]

EXPECTED: dict[str, tuple[str, int | None]] = {
    # check name: (status, failing rows; None where the check counts no rows)
    "row_count": ("passed", None),
    "not_null_customer_id": ("failed", 1),
    "unique_id": ("failed", 1),
    "unique_customer_status": ("warned", 1),
    "accepted_values_status": ("warned", 1),
    "range_amount": ("passed", 2),
    "regex_email": ("failed", 1),  # 1 of 12 is 8.3 %, above 5 %
    "fresh_business_days": ("passed", None),  # Friday's data on Monday: 1 business day
    "fresh_hours": ("warned", None),  # but 64.5 hours
    "relationship_customer_id": ("failed", 1),
    "schema": ("passed", None),
    "schema_exact": ("warned", None),
    "big_new_orders": ("failed", 1),
}
ROWS = 12


def verdicts(outcomes: list[dict[str, Any]]) -> dict[str, tuple[str, int | None]]:
    """``{name: (status, failing rows)}`` of a check task's outcomes, to compare."""
    return {o["check"]: (o["status"], o.get("failing_rows")) for o in outcomes}


def create_tables(con: Any, schema: str = "main") -> None:
    """Create ``orders`` and ``customers`` as DuckDB tables in ``schema``."""
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    con.execute(
        f'CREATE OR REPLACE TABLE "{schema}".orders (id INTEGER, customer_id INTEGER, '
        "status VARCHAR, amount DOUBLE, email VARCHAR, created_at TIMESTAMP)"
    )
    con.executemany(f'INSERT INTO "{schema}".orders VALUES (?, ?, ?, ?, ?, ?)', ORDERS)
    con.execute(f'CREATE OR REPLACE TABLE "{schema}".customers (id INTEGER, name VARCHAR)')
    con.executemany(f'INSERT INTO "{schema}".customers VALUES (?, ?)', CUSTOMERS)


def write_parquet(root: Path) -> dict[str, str]:
    """The two tables as Parquet files under ``root/orders/`` and ``root/customers/``;
    returns each table's folder."""
    import duckdb

    con = duckdb.connect()
    try:
        create_tables(con)
        folders = {}
        for table in ("orders", "customers"):
            folder = root / table
            folder.mkdir(parents=True, exist_ok=True)
            target = str(folder / "part-0.parquet").replace("'", "''")
            con.execute(f"COPY {table} TO '{target}' (FORMAT parquet)")
            folders[table] = str(folder) + "/"
        return folders
    finally:
        con.close()
