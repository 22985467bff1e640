"""``lakeroutine init``: a runnable starter routine, a sample landing file and what to change."""

from __future__ import annotations

import json
from pathlib import Path

from lakeroutine.errors import RoutineError

SAMPLE = "order_id,customer,amount\n1,ana,10.50\n2,bob,2.25\n3,ana,7.00\n"

ROUTINE = {
    "routine_name": "starter",
    "executors": {
        "StagingExecutor": {
            "params": {
                "parent_directory": "lake/landing/orders/",
                "dump_directory": "lake/staging/orders/",
                "archive_or_delete": "archive",
                "py_exec_path": "lakeroutine.transforms:csv_to_parquet",
            },
            "tasks": ["transfer", "post_staging"],
        },
        "orders_tables": {
            "executor": "DuckDBExecutor",
            "params": {"database": "lake/starter.duckdb"},
            "tasks": [
                {
                    "task": "create_table",
                    "args": {
                        "table": {
                            "name": "orders",
                            "columns": {
                                "order_id": "bigint",
                                "customer": "string",
                                "amount": "double",
                            },
                            "format": "parquet",
                            "location": "lake/staging/orders/",
                        },
                        "if_exists": "replace",
                    },
                },
                {
                    "task": "run_query",
                    "args": {
                        "sql": "SELECT customer, round(sum(amount), 2) AS total FROM orders "
                        "GROUP BY customer ORDER BY total DESC"
                    },
                },
            ],
        },
    },
}

NEXT_STEPS = """\
# Your lakeroutine starter

`routine.json` stages the CSV files of `lake/landing/orders/` to Parquet in
`lake/staging/orders/`, archives the originals to `lake/landing/orders_archive/`, then
makes a DuckDB table over the Parquet files and queries it.

Run it. It needs the core with pyarrow and the DuckDB plugin; until they are on PyPI,
install them from a clone of the lakeroutine repository, in its folder:
`pip install './core[parquet]' ./plugins/duckdb` (once published:
`pip install 'lakeroutine[parquet]' lakeroutine-duckdb`). Then:

    lakeroutine validate routine.json
    lakeroutine run routine.json

What to change:

- `parent_directory` / `dump_directory`: your landing and staging folders (or `s3://`
  URLs with the S3 plugin: `pip install ./plugins/s3` from the clone, `lakeroutine-s3` on
  PyPI once published).
- `py_exec_path`: your own transformation, `my_module:function` or `file.py:function`,
  called as `function(source, target, **py_exec_args)`.
- `columns`: your files' columns; `sql`: your query (`${name}` takes the routine's
  `vars`; values from outside go in `parameters`).
- To run on AWS, swap `DuckDBExecutor` for `AthenaExecutor` (`pip install ./plugins/athena`
  from the clone, `lakeroutine-athena` on PyPI once published).
"""


def write_starter(folder: Path) -> list[str]:
    """Write the starter into ``folder`` (never over an existing file) and return the lines
    telling the user what was written and what to run."""
    files = {
        folder / "routine.json": json.dumps(ROUTINE, indent=2) + "\n",
        folder / "lake" / "landing" / "orders" / "orders-0001.csv": SAMPLE,
        folder / "README.md": NEXT_STEPS,
    }
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise RoutineError(f"init: would overwrite {', '.join(existing)}; choose an empty folder")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    routine = folder / "routine.json"
    return [
        *(f"wrote {path}" for path in files),
        "next:",
        f"  lakeroutine run {routine}",
        f"  then read {folder / 'README.md'} for what to change",
    ]
