"""A ``check`` task's outcomes where Airflow users look: each warned or failed check as a
line of the task's log, and every outcome under the XCom key ``lakeroutine_checks`` (the
step's report entry, the return value, holds them too). An ``error`` check failing fails
the task as any failed step does."""

from __future__ import annotations

from typing import Any

CHECKS_KEY = "lakeroutine_checks"


def report_checks(log: Any, ti: Any, output: Any) -> None:
    """Log and push the outcomes of a check task's ``output`` (nothing for other tasks)."""
    if not isinstance(output, dict) or not isinstance(output.get("checks"), list):
        return
    table = output.get("table")
    for outcome in output["checks"]:
        if outcome.get("status") == "warned":
            log.warning("check %s on %s warned: %s", outcome["check"], table, outcome["detail"])
        elif outcome.get("status") == "failed":
            log.error("check %s on %s failed: %s", outcome["check"], table, outcome["detail"])
    ti.xcom_push(key=CHECKS_KEY, value=output["checks"])
