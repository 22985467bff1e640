"""Dagster definitions over the quickstart routine: a job ``quickstart_sales`` of four ops,
one per routine task, and a daily schedule of it (off until you turn it on).

From the repository root, after ``python examples/quickstart/land_files.py``::

    dagster dev -f examples/dagster/definitions.py
    dagster job execute -f examples/dagster/definitions.py -j quickstart_sales
"""

from pathlib import Path

from lakeroutine_dagster import routine_definitions

ROUTINE = Path(__file__).resolve().parent.parent / "quickstart" / "routine.json"

defs = routine_definitions(ROUTINE, schedule="0 6 * * *")
