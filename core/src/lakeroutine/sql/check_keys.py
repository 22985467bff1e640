"""Exact ``unique`` counts on DuckDB without hashing every key: an integer key whose range
is narrow enough is counted in a bitmap (``bitstring_agg``), one bit per possible value:
5x-6x less CPU than ``count(DISTINCT)`` on 10 million keys, range query included. The
bitmap needs the range when the query is planned, so a query reading only the keys' ``min``
and ``max`` runs first; a key outside that range (a row written between the two queries) is
still counted exactly, by running the scan again with the keys hashed. Athena and Redshift
have no exact bitmap aggregate: they keep ``count(DISTINCT)``.
"""

from __future__ import annotations

from typing import Any

BITMAP_MAX_BITS = 2**28
"""The widest range counted in a bitmap (32 MB a thread); wider ranges are hashed."""
BITMAP_BITS_PER_KEY = 16
"""A bitmap is used only up to this many bits per key present (2 bytes a key, well below
what a hash table entry costs), so sparse keys are hashed."""

Bounds = tuple[int, int]
_INTEGER_TYPES = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
)  # fmt: skip
_INTEGERS = ", ".join(f"'{name}'" for name in _INTEGER_TYPES)


def bounds_select(columns: list[str]) -> str:
    """The bounds query's select list: ``min``, ``max`` and ``count`` of each integer key
    column (given quoted, e.g. ``t."id"``); NULL, NULL, 0 for a column of another type,
    which DuckDB then does not read (``typeof`` is folded when the query is planned)."""
    found = []
    for col in columns:
        key = f"CASE WHEN typeof({col}) IN ({_INTEGERS}) THEN {col} END"
        found.append(f"min({key}), max({key}), count({key})")
    return ", ".join(found)


def bitmap_bounds(found: list[Any]) -> Bounds | None:
    """The range to count in a bitmap from one key's ``min``, ``max`` and ``count``, or None
    when the key is not an integer, absent, beyond BIGINT, or too sparse for a bitmap to
    pay."""
    if len(found) != 3:
        return None
    low, high, count = found
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high, count)):
        return None
    bits = high - low + 1
    if max(abs(low), abs(high)) >= 2**63:  # bounds are written as BIGINT literals
        return None
    if bits > BITMAP_MAX_BITS or bits > BITMAP_BITS_PER_KEY * max(count, 1):
        return None
    return low, high


def distinct_keys(col: str, bounds: Bounds) -> str:
    """The number of distinct values of ``col`` within ``bounds``, set in a bitmap (values
    outside are left out: see :func:`outside`)."""
    low, high = bounds
    inside = f"CASE WHEN {col} BETWEEN {low} AND {high} THEN {col} END"
    return f"coalesce(bit_count(bitstring_agg({inside}, {low}, {high})), 0)"


def outside(col: str, bounds: Bounds) -> str:
    """How many values of ``col`` are outside ``bounds``: none, unless rows were written
    after the bounds were read; then the scan is run again with the keys hashed."""
    low, high = bounds
    return f"count(CASE WHEN NOT ({col} BETWEEN {low} AND {high}) THEN 1 END)"
