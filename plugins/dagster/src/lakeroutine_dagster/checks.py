"""A ``check`` task's outcomes as Dagster asset check evaluations: one per check, on the
checked table's asset key (``lakeroutine/<table>``), with the check's severity, its detail
as the description and the failing rows as metadata, so they show in Dagster's asset checks
as well as in the op's output metadata."""

from __future__ import annotations

import re
from typing import Any

import dagster as dg

ASSET_PREFIX = "lakeroutine"


def check_evaluations(output: Any) -> list[dg.AssetCheckEvaluation]:
    """The evaluations of a ``check`` task's ``output`` (none for any other output)."""
    if not isinstance(output, dict) or not isinstance(output.get("checks"), list):
        return []
    table = str(output.get("table") or "")
    if not table:
        return []
    key = dg.AssetKey([ASSET_PREFIX, *table.split(".")])
    evaluations = []
    for outcome in output["checks"]:
        metadata: dict[str, Any] = {"status": outcome.get("status"), "kind": outcome.get("kind")}
        for field in ("failing_rows", "failing_percent", "rows", "newest"):
            if outcome.get(field) is not None:
                metadata[field] = outcome[field]
        if outcome.get("sample"):
            metadata["sample"] = dg.MetadataValue.json(outcome["sample"])
        evaluations.append(
            dg.AssetCheckEvaluation(
                asset_key=key,
                check_name=re.sub(r"[^A-Za-z0-9_]", "_", str(outcome["check"])),
                passed=outcome.get("status") == "passed",
                severity=(
                    dg.AssetCheckSeverity.WARN
                    if outcome.get("severity") == "warn"
                    else dg.AssetCheckSeverity.ERROR
                ),
                description=str(outcome.get("detail") or ""),
                metadata=metadata,
            )
        )
    return evaluations
