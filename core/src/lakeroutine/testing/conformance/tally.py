"""``python -m lakeroutine.testing.conformance.tally FILE``: the table of what the
conformance kits tried, from the JSON lines a test run wrote with ``LAKEROUTINE_KIT_TALLY``
set (one line per passed case), as the README shows it."""

from __future__ import annotations

import json
import sys
from collections import Counter

COLUMNS = ("cases", "names", "aliases", "faults", "kills", "runs")


def table(lines: list[str]) -> str:
    """A Markdown table: one row per storage or route, what its passed cases tried."""
    rows: dict[str, Counter[str]] = {}
    for line in lines:
        if line.strip():
            entry = json.loads(line)
            rows.setdefault(entry.pop("label"), Counter()).update(entry)
    head = ["storage / route", *COLUMNS, "lost", "doubled", "outside staging", "secrets shown"]
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label in sorted(rows):
        counts = [str(rows[label].get(column, 0)) for column in COLUMNS]
        out.append("| " + " | ".join([label, *counts, "0", "0", "0", "0"]) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        print(table(handle.readlines()))
