"""``unique`` on DuckDB counted in a bitmap once the key's range is read: the same counts as
a distinct count on real DuckDB tables, for keys of every integer width and sign, with NULLs,
a filter, a key written after its range was read (counted exactly all the same), and keys a
bitmap does not fit (text, decimals, sparse or absent keys: hashed as before)."""

from __future__ import annotations

import duckdb
import pytest
from lakeroutine.sql.check_keys import BITMAP_BITS_PER_KEY
from lakeroutine.sql.check_sql import CompiledChecks, compile_checks
from lakeroutine.sql.checks import CheckArgs


def plan(*columns: str, where: str | None = None) -> CompiledChecks:
    checks = [{"kind": "unique", "column": name} for name in columns]
    args = CheckArgs.model_validate({"table": "t", "checks": checks, "where": where})
    return compile_checks(args, table_sql='"t"', dialect="duckdb")


def bounded(con: duckdb.DuckDBPyConnection, compiled: CompiledChecks) -> list:
    """The counts as the check task gets them: the bounds query, then the scan."""
    assert compiled.bounds_query is not None
    compiled.use_bounds(list(con.execute(compiled.bounds_query).fetchall()[0]))
    return list(con.execute(compiled.query).fetchone())


@pytest.mark.parametrize("kind", ["TINYINT", "INTEGER", "BIGINT", "HUGEINT", "UBIGINT"])
def test_integer_keys_are_counted_in_a_bitmap_with_the_counts_of_a_hash(kind: str) -> None:
    con = duckdb.connect()
    low = 0 if kind.startswith("U") else -7
    con.execute(
        f"CREATE TABLE t AS SELECT (i % 90 + {low})::{kind} AS k, i AS n FROM range(200) r(i)"
    )
    con.execute("INSERT INTO t VALUES (NULL, -1), (NULL, -2)")
    hashed = list(con.execute(plan("k").query).fetchone())

    compiled = plan("k")
    found = bounded(con, compiled)

    assert compiled.key_bounds == {'t."k"': (low, low + 89)}
    assert "bitstring_agg" in compiled.query and "DISTINCT" not in compiled.query
    assert found == [*hashed, 0] == [202, 200 - 90, 0]  # and no key outside the range


def test_the_filter_applies_to_the_range_and_the_count() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT i // 2 AS k FROM range(100) r(i)")
    compiled = plan("k", where="k >= 40")

    assert bounded(con, compiled) == [20, 10, 0]
    assert compiled.key_bounds == {'t."k"': (40, 49)}


def test_a_key_written_after_its_range_was_read_is_still_counted() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT i AS k FROM range(50) r(i)")
    compiled = plan("k")
    compiled.use_bounds(list(con.execute(compiled.bounds_query or "").fetchall()[0]))
    con.execute("INSERT INTO t VALUES (500), (500), (-3), (7)")  # beyond 0..49, and a duplicate

    cursor = con.execute(compiled.query)
    row = dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))
    assert row["lr_outside_c0"] == 3
    assert compiled.outside_bounds(row)  # the task scans again, hashing the keys
    assert "bitstring_agg" not in compiled.query
    assert list(con.execute(compiled.query).fetchone()) == [54, 2]
    assert not compiled.outside_bounds({"c0": 2})


def test_keys_a_bitmap_does_not_fit_are_hashed() -> None:
    con = duckdb.connect()
    sparse = 2 * BITMAP_BITS_PER_KEY
    con.execute(
        "CREATE TABLE t AS SELECT 'k' || (i % 3) AS s, (i % 3)::DECIMAL(9, 2) AS d, "
        f"i * {sparse} AS far, NULL::INTEGER AS absent, "
        "(i % 5)::UHUGEINT + 170141183460469231731687303715884105728 AS huge FROM range(10) r(i)"
    )
    compiled = plan("s", "d", "far", "absent", "huge")

    assert bounded(con, compiled) == [10, 7, 7, 0, 0, 5]
    assert compiled.key_bounds == {}
    assert "bitstring_agg" not in compiled.query


def test_other_dialects_read_no_range() -> None:
    args = CheckArgs.model_validate({"table": "t", "checks": [{"kind": "unique", "column": "k"}]})
    for dialect in ("trino", "redshift"):
        assert compile_checks(args, table_sql='"t"', dialect=dialect).bounds_query is None
