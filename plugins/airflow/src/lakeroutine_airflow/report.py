"""The optional last task of a routine's DAG: the whole run's report, written as JSON to a
path (relative to the routine file) or a URI of an installed lakeroutine storage."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, TriggerRule
from airflow.sdk.exceptions import AirflowFailException

from lakeroutine_airflow.naming import ENTRY_KEY, run_identity

REPORT_TASK_ID = "lakeroutine_report"


class RoutineReportOperator(BaseOperator):
    """Collects every step's report entry (XCom) and writes the run's report to ``report``;
    a step that did not run is reported as ``not run``. Runs whatever happened, and fails
    (without retry) after writing when the routine failed, so the DAG run fails too."""

    template_fields = ("report",)

    def __init__(
        self,
        *,
        routine_path: str,
        routine_name: str,
        steps: dict[str, str],
        report: str,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        super().__init__(**kwargs)
        self.routine_path = routine_path
        self.routine_name = routine_name
        self.steps = steps  # step id -> Airflow task id
        self.report = report

    def execute(self, context: Any) -> str:
        """Write the report; return where it went."""
        ti = context["ti"]
        run_id, _run_date = run_identity(context)
        entries = []
        for step_id, task_id in self.steps.items():
            entry = ti.xcom_pull(task_ids=task_id) or ti.xcom_pull(task_ids=task_id, key=ENTRY_KEY)
            entries.append(entry or {"step": step_id, "status": "not run", "task_id": task_id})
        statuses = {entry["status"] for entry in entries}
        report = {
            "routine_name": self.routine_name,
            "run_id": run_id,
            "status": "succeeded" if statuses == {"succeeded"} else "failed",
            "airflow_run_id": context["dag_run"].run_id,
            "duration_s": round(sum(entry.get("duration_s", 0.0) for entry in entries), 6),
            "tasks": entries,
        }
        target = write_report(report, self.report, Path(self.routine_path).parent)
        self.log.info("routine %s %s: %s", self.routine_name, report["status"], _summary(entries))
        self.log.info("lakeroutine report of %s written to %s", run_id, target)
        if report["status"] != "succeeded":
            failed = [e["step"] for e in entries if e["status"] != "succeeded"]
            raise AirflowFailException(
                f"routine {self.routine_name} failed (report: {target}); "
                f"not succeeded: {', '.join(failed)}"
            )
        return target


def _summary(entries: list[dict[str, Any]]) -> str:
    """The run's counts, as ``lakeroutine run`` ends: ``3 steps: 2 succeeded, 1 not run``."""
    from lakeroutine.wording import counted

    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in counts.items())
    return f"{counted(len(entries), 'step')}: {parts}"


def resolve_target(target: str, base_dir: Path) -> str:
    """``target`` with a relative local path taken from ``base_dir`` (the routine's folder)."""
    from lakeroutine.storage.registry import scheme_of

    if scheme_of(target) != "file":
        return target
    path = Path(target.removeprefix("file://")).expanduser()
    return str(path if path.is_absolute() else base_dir / path)


def check_target(target: str, base_dir: Path, option: str = "report=") -> None:
    """RoutineError unless the report can be written at ``target`` (written there to
    know): the DAG run's first step calls it, before anything runs. ``option`` says which
    setting gave the target, and where (``report= of routine_dag in DAG 'x' (file)``)."""
    from lakeroutine.plugins import load_plugins
    from lakeroutine.report_target import check_report_target, is_local

    resolved = resolve_target(target, base_dir)
    check_report_target(resolved, None if is_local(resolved) else load_plugins(), option)


def write_report(report: dict[str, Any], target: str, base_dir: Path) -> str:
    """Write ``report`` as JSON to ``target`` atomically, through lakeroutine's storages
    (a local path, relative to ``base_dir``, or e.g. ``s3://bucket/key.json``)."""
    from lakeroutine.plugins import load_plugins
    from lakeroutine.storage.registry import scheme_of

    target = resolve_target(target, base_dir)
    if scheme_of(target) == "file":
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    storage = load_plugins().storages().for_url(target)
    with tempfile.TemporaryDirectory() as folder:
        local = Path(folder) / "report.json"
        local.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        storage.upload(local, target)
    return target
