"""``python -m lakeroutine.testing.conformance.tally FILE [STATE_FILE]``: the tables of what
the conformance kits tried, from the JSON lines a test run wrote with ``LAKEROUTINE_KIT_TALLY``
(storage kit, one line per passed case) and ``LAKEROUTINE_CONFORMANCE_TALLY`` (state kit)
set, as the README shows them."""

from __future__ import annotations

import json
import sys
from collections import Counter

COLUMNS = ("cases", "names", "aliases", "faults", "kills", "runs")
STATE_COLUMNS = (
    ("kill_points", "kill points tried"),
    ("runs", "runs"),
    ("files", "landing files"),
    ("faults", "faults injected"),
    ("window_writes", "writes in a takeover window"),
    ("lost", "lost"),
    ("doubled", "doubled"),
    ("secrets", "secrets in state"),
)
STORES = {"sqlite": "SQLite (local)", "s3": "S3 (moto), reruns from another machine"}
ROUTES = {
    "-": "store cases",
    "local": "local folders",
    "s3": "S3 (moto)",
    "gcs": "GCS (fake-gcs-server)",
    "azure": "Azure (Azurite)",
    "sftp": "SFTP (asyncssh, OpenSSH)",
}


def _sum(lines: list[str], key: str) -> dict[str, Counter[str]]:
    """The JSON lines' counts added up per value of ``key``."""
    rows: dict[str, Counter[str]] = {}
    for line in lines:
        if line.strip():
            entry = json.loads(line)
            rows.setdefault(entry.pop(key), Counter()).update(entry)
    return rows


def table(lines: list[str]) -> str:
    """A Markdown table: one row per storage or route, what its passed cases tried."""
    rows = _sum(lines, "label")
    head = ["storage / route", *COLUMNS, "lost", "doubled", "outside staging", "secrets shown"]
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label in sorted(rows):
        counts = [str(rows[label].get(column, 0)) for column in COLUMNS]
        out.append("| " + " | ".join([label, *counts, "0", "0", "0", "0"]) + " |")
    return "\n".join(out)


def state_table(lines: list[str]) -> str:
    """A Markdown table: one row per state store and storage route (``-``: the store's own
    cases), what the state kit's passed cases tried and what they found."""
    rows = _sum(lines, "where")
    head = ["state store", "storage route", *(title for _key, title in STATE_COLUMNS)]
    out = ["| " + " | ".join(head) + " |", "| --- | --- |" + " ---: |" * len(STATE_COLUMNS)]
    order = {name: n for n, name in enumerate(ROUTES)}
    for where in sorted(rows, key=lambda w: (w.split()[0], order.get(w.split()[-1], 99))):
        store, _, route = where.partition(" ")
        counts = [str(rows[where].get(key, 0)) for key, _title in STATE_COLUMNS]
        names = [STORES.get(store, store), ROUTES.get(route, route)]
        out.append("| " + " | ".join([*names, *counts]) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        print(table(handle.readlines()))
    if len(sys.argv) > 2:
        with open(sys.argv[2], encoding="utf-8") as handle:
            print("\n" + state_table(handle.readlines()))
