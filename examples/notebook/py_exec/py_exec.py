"""The notebook's transformation: rename the columns of every CSV file in the landing folder
and write the result to the staging folder (the notebook's py_exec contract)."""

import csv
import logging
import os

log = logging.getLogger(__name__)
log.info("This is running inside other module, and being executed because of a call.")


def test():
    """Called before main(): a cheap self-check of the transformation."""
    assert rename_header(["column1", "x"], {"column1": "name"}) == ["name", "x"]
    log.info("Test ok")


def rename_header(header, mapper):
    return [mapper.get(column, column) for column in header]


def main(parent, dump, mapper=None):
    """Copy each CSV below `parent` to the same place below `dump`, renaming columns."""
    mapper = mapper or {}
    for folder, _dirs, files in os.walk(parent):
        for name in files:
            if not name.endswith(".csv"):
                continue
            source = os.path.join(folder, name)
            target = os.path.join(dump, os.path.relpath(source, parent))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(source, newline="") as src, open(target, "w", newline="") as dst:
                rows = csv.reader(src)
                writer = csv.writer(dst)
                writer.writerow(rename_header(next(rows, []), mapper))
                writer.writerows(rows)
