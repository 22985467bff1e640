"""DuckDBExecutor.check for real: the golden tables with known defects give the verdicts
written by hand, the row count is compared with the last run's, and write-audit-publish
publishes audited rows, quarantines rows failing a quarantining check, and publishes
nothing when an error check fails (naming it, with a masked sample)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from lakeroutine.errors import RoutineError
from lakeroutine.testing import check_golden as golden


def routine(tmp: Path, *tasks: Any) -> Path:
    """Tables over the golden Parquet files, then ``tasks``."""
    golden.write_parquet(tmp / "lake")
    spec = {
        "routine_name": "checks",
        "executors": {
            "DuckDBExecutor": {
                "params": {"database": "db/lake.duckdb"},
                "tasks": [
                    {
                        "task": "create_table",
                        "args": {"table": {**golden.ORDERS_SPEC, "location": "lake/orders/"}},
                    },
                    {
                        "task": "create_table",
                        "args": {"table": {**golden.CUSTOMERS_SPEC, "location": "lake/customers/"}},
                    },
                    *tasks,
                ],
            }
        },
    }
    path = tmp / "routine.json"
    path.write_text(json.dumps(spec))
    return path


def check(checks: list[dict[str, Any]], **args: Any) -> dict[str, Any]:
    return {"task": "check", "args": {"table": "orders", "checks": checks, **args}}


def test_golden_set_gives_the_verdicts_written_by_hand(tmp_path: Path, run) -> None:
    result = run(routine(tmp_path, check(golden.CHECKS)))

    task = result.tasks[-1]
    assert task.status == "failed"
    assert golden.verdicts(task.output["checks"]) == golden.EXPECTED
    assert task.output["rows"] == golden.ROWS
    assert task.output["summary"] == {"checks": 13, "passed": 4, "warned": 4, "failed": 5}
    assert "5 error checks failed on main.orders" in task.error
    for name in ("not_null_customer_id", "unique_id", "regex_email", "big_new_orders"):
        assert name in task.error
    by_name = {o["check"]: o for o in task.output["checks"]}
    assert by_name["relationship_customer_id"]["sample"][0]["customer_id"] == 99
    assert by_name["unique_id"]["sample"] == [{"id": 2, "lr_duplicates": 2}]
    assert "sample" not in by_name["range_amount"]  # passed: not sampled


def test_all_checks_are_one_scan_of_the_table(tmp_path: Path, run) -> None:
    row_checks = [c for c in golden.CHECKS if c["kind"] not in ("schema", "custom_sql")]
    passing = [{**c, "severity": "warn"} for c in row_checks]
    result = run(routine(tmp_path, check(passing, sample_rows=0)))

    output = result.tasks[-1].output
    assert result.status == "succeeded"
    # the integer key's range (its column alone, for the bitmap), then one scan for eleven
    # checks; samples off
    assert output["queries"] == 2
    assert output["summary"]["warned"] == 7


def test_row_count_change_is_measured_against_the_last_run(tmp_path: Path, run) -> None:
    count = check([{"kind": "row_count", "max_change_percent": 10}])
    path = routine(tmp_path, count)

    first = run(path).tasks[-1].output["checks"][0]
    assert first["status"] == "passed" and first["previous_rows"] is None

    extra = tmp_path / "lake" / "orders" / "part-1.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_parquet('{tmp_path}/lake/orders/part-0.parquet') LIMIT 3) "
        f"TO '{extra}' (FORMAT parquet)"
    )
    second = run(path).tasks[-1]
    assert second.status == "failed"
    outcome = second.output["checks"][0]
    assert outcome["rows"] == 15 and outcome["previous_rows"] == 12
    assert "changed by 25.0% from 12" in outcome["detail"]
    # a failed check keeps the accepted count: the next run still compares with 12
    assert run(path).tasks[-1].output["checks"][0]["previous_rows"] == 12


def test_write_audit_publish_quarantines_rows_and_publishes_the_rest(tmp_path: Path, run) -> None:
    checks = [
        {"kind": "not_null", "column": "customer_id", "quarantine": True},
        {"kind": "range", "column": "amount", "min": 0, "max": 1000, "quarantine": True},
        {"kind": "unique", "column": "id", "severity": "warn"},
    ]
    publish = {
        "table": "orders_published",
        "location": "lake/published/orders/",
        "quarantine_table": "orders_quarantine",
        "quarantine_location": "lake/quarantine/orders/",
    }
    result = run(routine(tmp_path, check(checks, publish=publish)))

    assert result.status == "succeeded", result.tasks[-1].error
    published = result.tasks[-1].output["published"]
    assert published["rows"] == 9 and published["quarantined_rows"] == 3
    assert published["quarantined_by_check"] == {"not_null_customer_id": 1, "range_amount": 2}
    con = duckdb.connect(str(tmp_path / "db" / "lake.duckdb"), read_only=True)
    ids = sorted(r[0] for r in con.execute("SELECT id FROM orders_published").fetchall())
    assert ids == [1, 2, 2, 4, 7, 8, 9, 10, 11]
    held = con.execute("SELECT id, _check, _reason FROM orders_quarantine ORDER BY id").fetchall()
    assert held == [
        (3, "not_null_customer_id", "customer_id is NULL"),
        (5, "range_amount", "amount is outside [0, 1000]"),
        (6, "range_amount", "amount is outside [0, 1000]"),
    ]
    con.close()
    files = [p.name for p in (tmp_path / "lake" / "published" / "orders").iterdir()]
    assert files == [f"part-{result.run_id}.parquet"]  # no temporary left


def test_unique_and_custom_sql_quarantine_their_rows(tmp_path: Path, run) -> None:
    checks = [
        {"kind": "unique", "column": "id", "quarantine": True},
        {"kind": "custom_sql", "name": "big_new_orders", "quarantine": True, "key": ["id"],
         "sql": "SELECT id FROM orders WHERE status = 'new' AND amount > 900"},
    ]  # fmt: skip
    publish = {
        "table": "orders_published",
        "location": "lake/published/orders/",
        "quarantine_table": "orders_quarantine",
        "quarantine_location": "lake/quarantine/orders/",
    }
    result = run(routine(tmp_path, check(checks, publish=publish)))

    assert result.status == "succeeded", result.tasks[-1].error
    published = result.tasks[-1].output["published"]
    assert published["rows"] == 9 and published["quarantined_rows"] == 3
    con = duckdb.connect(str(tmp_path / "db" / "lake.duckdb"), read_only=True)
    ids = sorted(r[0] for r in con.execute("SELECT id FROM orders_published").fetchall())
    assert ids == [1, 3, 4, 5, 6, 7, 8, 9, 11]  # both rows of id 2 and order 10 held back
    held = con.execute(
        "SELECT id, customer_id, _check, _reason FROM orders_quarantine ORDER BY id, customer_id"
    ).fetchall()
    assert held == [
        (2, 10, "unique_id", "id is shared by another row"),
        (2, 11, "unique_id", "id is shared by another row"),
        (10, 14, "big_new_orders", "returned by the query of big_new_orders"),
    ]
    con.close()


def test_failed_audit_publishes_nothing_and_masks_the_sample(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARTNER_TOKEN", "d@x.com")  # a secret that happens to be in the data
    checks = [
        {"kind": "not_null", "column": "customer_id"},
        {
            "kind": "custom_sql",
            "name": "no_partner_rows",
            "sql": "SELECT * FROM orders WHERE email = '${env:PARTNER_TOKEN}' AND false",
        },
    ]
    publish = {"table": "orders_published", "location": "lake/published/orders/"}
    result = run(routine(tmp_path, check(checks, publish=publish, mask_columns=["status"])))

    task = result.tasks[-1]
    assert task.status == "failed"
    assert "not_null_customer_id (1 of 12 rows fail" in task.error
    assert "nothing published" in task.error
    assert "d@x.com" not in task.error and "d@x.com" not in json.dumps(task.output)
    [sample] = task.output["checks"][0]["sample"]
    assert sample["id"] == 3 and sample["email"] == "***" and sample["status"] == "***"
    assert "published" not in task.output
    assert not (tmp_path / "lake" / "published").exists()
    con = duckdb.connect(str(tmp_path / "db" / "lake.duckdb"), read_only=True)
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    assert "orders_published" not in views
    con.close()


@pytest.mark.parametrize(
    ("checks", "field", "message"),
    [
        ([{"kind": "not_null"}], "column", "Field required"),
        ([{"kind": "nope", "column": "a"}], "args.checks[0]", "does not match any of the expected"),
        ([{"kind": "range", "column": "a"}], "args.checks[0].range", "give min, max or both"),
        ([{"kind": "regex", "column": "a", "pattern": "("}], "pattern", "not a regular exp"),
        (
            [{"kind": "not_null", "column": "a;drop"}],
            "args.checks[0].not_null.column",
            "unsafe name",
        ),
        (
            [{"kind": "not_null", "column": "a", "max_failing": 1, "max_failing_percent": 2}],
            "args.checks[0].not_null",
            "not both",
        ),
        (
            [{"kind": "not_null", "column": "a"}, {"kind": "not_null", "column": "A"}],
            "args",
            "two checks are named 'not_null_a'",
        ),
        ([{"kind": "freshness", "column": "a"}], "freshness", "exactly one of max_age_hours"),
        ([{"kind": "custom_sql", "sql": "DROP TABLE orders"}], "sql", "must be one query"),
        ([{"kind": "not_null", "column": "a", "quarantine": True}], "args", "quarantine_table"),
        (
            [{"kind": "custom_sql", "sql": "SELECT 1 AS id", "quarantine": True}],
            "custom_sql",
            "quarantine: give key",
        ),
    ],
)
def test_bad_checks_are_refused_before_anything_runs(
    tmp_path: Path, run, checks: list[dict[str, Any]], field: str, message: str
) -> None:
    with pytest.raises(RoutineError) as caught:
        run(routine(tmp_path, check(checks)))
    text = str(caught.value)
    assert "routine.json" in text and "'DuckDBExecutor'" in text and "'check'" in text
    assert field in text and message in text, text
    assert not (tmp_path / "db").exists()  # nothing ran


def test_publish_needs_local_folders(tmp_path: Path, run) -> None:
    publish = {"table": "out", "location": "s3://bucket/out/"}
    with pytest.raises(RoutineError, match="must be a local folder"):
        run(routine(tmp_path, check([{"kind": "not_null", "column": "id"}], publish=publish)))


def test_validating_checks_imports_no_engine_and_no_check_machinery(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = routine(tmp_path, check(golden.CHECKS))
    probe = (
        "import sys\n"
        "from lakeroutine.cli import main\n"
        f"assert main(['validate', {str(path)!r}]) == 0\n"
        "heavy = ['duckdb', 'sqlglot', 'pyarrow', 'boto3', 'lakeroutine.sql.check_sql',\n"
        "         'lakeroutine.sql.check_task', 'lakeroutine.sql.check_verdicts']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(("mode", "rows"), [("append", 22), ("replace", 11)])
def test_publish_appends_or_replaces(tmp_path: Path, run, mode: str, rows: int) -> None:
    checks = [{"kind": "not_null", "column": "customer_id", "quarantine": True}]
    publish = {
        "table": "live",
        "mode": mode,
        "location": "lake/live/",
        "quarantine_table": "held",
        "quarantine_location": "lake/held/",
    }
    path = routine(tmp_path, check(checks, publish=publish))
    for _ in range(2):
        assert run(path).status == "succeeded"

    con = duckdb.connect(str(tmp_path / "db" / "lake.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM live").fetchall() == [(rows,)]
    assert con.execute("SELECT count(*) FROM held").fetchall() == [(rows // 11,)]
    con.close()


def test_a_table_made_by_a_query_is_checked_and_a_missing_one_named(tmp_path: Path, run) -> None:
    make = {"task": "run_query", "args": {"sql": "CREATE TABLE small AS SELECT 1 AS id"}}
    checks = [{"kind": "row_count", "min": 1}]
    small = {"task": "check", "args": {"table": "small", "checks": checks}}
    missing = {"task": "check", "args": {"table": "nowhere", "checks": checks}}

    result = run(routine(tmp_path, make, small, missing))

    assert result.tasks[3].status == "succeeded" and result.tasks[3].output["rows"] == 1
    assert result.tasks[4].error == "no table main.nowhere"
