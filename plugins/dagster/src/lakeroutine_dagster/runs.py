"""Which lakeroutine run a Dagster run is: its run id and its ``${run_date}``.

Every step of one Dagster run, and of every re-execution of it, shares one lakeroutine run:
the run id is the id of the first Dagster run of the family (``root_run_id``), so a
re-execution from failure resumes the same lakeroutine run rather than starting another.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

PARTITION_TAG = "dagster/partition"
SCHEDULED_TAG = "dagster/scheduled_execution_time"


def lakeroutine_run_id(context: Any) -> str:
    """The Dagster run id of the first run of this run's re-execution family."""
    run = context.dagster_run
    return run.root_run_id or run.run_id


def lakeroutine_run_date(context: Any) -> dt.date | dt.datetime:
    """``${run_date}`` of the run: a date partition's day, else the schedule's tick, else
    when the first run of the family was created (UTC), never the day of a re-execution."""
    tags = context.dagster_run.tags
    partition = tags.get(PARTITION_TAG)
    if partition:
        try:
            return dt.date.fromisoformat(partition[:10])
        except ValueError:
            pass  # not a date partition
    scheduled = tags.get(SCHEDULED_TAG)
    if scheduled:
        try:
            return dt.datetime.fromisoformat(scheduled)
        except ValueError:
            pass
    record = context.instance.get_run_record_by_id(lakeroutine_run_id(context))
    if record is not None and record.create_timestamp is not None:
        return record.create_timestamp.astimezone(dt.timezone.utc)
    return dt.datetime.now(dt.timezone.utc)
