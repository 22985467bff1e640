"""The Airflow task that runs exactly one step of a routine (``lakeroutine.steps``).

Every task of one DAG run calls ``lakeroutine.run_routine`` with the same ``run_id`` and
``run_date`` (from the DAG run) and ``retries=False``: Airflow retries, with the routine
task's ``retries`` and ``retry_delay_s``. Its XCom return value is the step's report entry.
With ``deferrable=True`` a long wait (an Athena query, a Glue job run, a Redshift statement)
goes to Airflow's triggerer (:class:`~lakeroutine_airflow.trigger.RoutineWaitTrigger`)
and the task resumes on a worker when the work has ended.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from lakeroutine_airflow.checks import report_checks
from lakeroutine_airflow.naming import ENTRY_KEY, STATE_ENV, run_identity

ROUTINE_TAG_PREFIX = "lakeroutine:"  # + the routine's version, a tag of the DAG
_OWN_ARGUMENTS = (  # RoutineStepOperator's own, in the order _set_own takes them
    "routine_path",
    "step_id",
    "routine_vars",
    "deferrable",
    "report_check",
    "step_digest",
    "routine_tag",
)


class RoutineStepFailed(AirflowException):
    """The routine task failed: Airflow retries it if the step has retries left."""


class RoutineStepOperator(BaseOperator):
    """Runs the step ``step_id`` of the routine file ``routine_path``."""

    template_fields = ("routine_vars", "report_check")
    ui_color = "#e8f4f8"

    def __init__(
        self,
        *,
        routine_path: str,
        step_id: str,
        routine_vars: Mapping[str, Any] | None = None,
        deferrable: bool = False,
        report_check: str | None = None,
        step_digest: str = "",
        routine_tag: str = "",
        **kwargs: Any,
    ) -> None:
        self._set_own(
            routine_path, step_id, routine_vars, deferrable, report_check, step_digest, routine_tag
        )
        super().__init__(**kwargs)

    @classmethod
    def for_step(cls, **kwargs: Any) -> RoutineStepOperator:
        """The operator the constructor builds from the same arguments (all seven of this
        operator's own given), at about half the cost: ``routine_dag`` builds one per step at
        every parse, in the DAG processor and in each task's process. Airflow wraps each
        ``__init__`` in ``apply_defaults``, which merges the DAG's defaults and params again;
        here BaseOperator's runs alone, then the two things its wrapper does for the
        outermost ``__init__``. No default_args are read for this operator's own arguments."""
        task = cls.__new__(cls)
        task._set_own(*(kwargs.pop(name) for name in _OWN_ARGUMENTS))
        BaseOperator.__init__(task, **kwargs)
        task._set_xcomargs_dependencies()  # an XComArg in the vars: its task made upstream
        object.__setattr__(task, "_BaseOperator__instantiated", True)
        return task

    def _set_own(
        self,
        routine_path: str,
        step_id: str,
        routine_vars: Mapping[str, Any] | None,
        deferrable: bool,
        report_check: str | None,
        step_digest: str,
        routine_tag: str,
    ) -> None:
        """This operator's own attributes, set before BaseOperator's: as plain attributes,
        since ``BaseOperator.__setattr__`` has nothing to do for them while constructing (no
        converter; template fields are tracked only once the operator is built)."""
        self.__dict__.update(
            routine_path=routine_path,
            step_id=step_id,
            routine_vars=dict(routine_vars or {}),
            deferrable=deferrable,
            report_check=report_check,  # the first step proves the run's report writable
            step_digest=step_digest,  # the task the id named when the DAG was parsed
            routine_tag=routine_tag,  # the routine's version when the DAG was parsed
        )

    def execute(self, context: Any) -> dict[str, Any]:
        """Run the step; defer its first long wait to the triggerer if ``deferrable``."""
        from lakeroutine.errors import RoutineError
        from lakeroutine.steps import check_step_digest
        from lakeroutine.waiting import Deferral

        try:  # the file edited since the DAG was parsed: the id may name another task
            check_step_digest(self.routine_path, self.step_id, self.step_digest)
        except RoutineError as exc:
            raise AirflowFailException(str(exc)) from None
        self._check_scheduler_version(context)
        if self.report_check:  # the first step: the run's report must be writable first
            from lakeroutine_airflow.report import check_target

            try:
                folder = Path(self.routine_path).parent
                check_target(self.report_check, folder, self._report_option())
            except RoutineError as exc:
                raise AirflowFailException(str(exc)) from None
        return self._run_step(context, Deferral() if self.deferrable else None)

    def _check_scheduler_version(self, context: Any) -> None:
        """Refuse when the scheduler was shown another version of the routine than the one
        this task was built from. A worker re-reads the DAG file (so the routine file) to
        build its task: edited since Airflow's DAG processor last read it, a step id may now
        name another task than the one the scheduler shows. The processor's reading is the
        DAG's ``lakeroutine:`` tag, read back through the task API. Versioned DAG bundles
        are left to Airflow: their workers run the run's own bundle version."""
        if not self.routine_tag:
            return
        get_dag = getattr(context["ti"], "get_dag", None)  # Airflow 3.1+
        try:
            shown = get_dag(self.dag_id) if get_dag is not None else None
        except Exception as exc:  # no DAG record to compare with: nothing to refuse
            self.log.debug("routine version not checked: %s", exc)
            return
        if shown is None or getattr(shown, "bundle_version", None):
            return
        tags = set(getattr(shown, "tags", None) or ())
        read = sorted(tag for tag in tags if tag.startswith(ROUTINE_TAG_PREFIX))
        if not read or self.routine_tag in tags:
            return
        raise RoutineStepFailed(
            f"step {self.step_id!r}: the routine file {self.routine_path} changed since "
            f"Airflow's DAG processor last read it (the scheduler shows {', '.join(read)}; "
            f"the file is now {self.routine_tag}): a step id may now name another task than "
            "the one shown. Refused, nothing run: this task runs once the processor has "
            "re-read the file (retry or clear it then)"
        )

    def _report_option(self) -> str:
        """Where the user set the report: ``report=`` of routine_dag or RoutineTaskGroup, in
        which DAG and DAG file."""
        group = self.task_group.group_id if self.task_group else None
        where = f"RoutineTaskGroup {group!r} in DAG" if group else "routine_dag of DAG"
        file = getattr(self.dag, "fileloc", None) if self.has_dag() else None
        return f"{where} {self.dag_id!r}{f' ({file})' if file else ''}: report="

    def resume(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """Go on after the triggerer saw the wait end: the step runs again, re-attaches to
        its work (saved in the run state) and continues from there."""
        from lakeroutine.waiting import Deferral

        if event.get("status") != "done":
            raise RoutineStepFailed(f"{self.step_id}: waiting failed: {event.get('error')}")
        deferral = Deferral(wait=str(event["wait"]), waited_s=float(event["waited_s"]))
        return self._run_step(context, deferral)

    def _run_step(self, context: Any, deferral: Any) -> dict[str, Any]:
        from lakeroutine import run_routine
        from lakeroutine.errors import PluginError, RoutineError
        from lakeroutine.state import LockHeld as RunLocked

        run_id, run_date = run_identity(context)
        try:
            result = run_routine(
                self.routine_path,
                vars=self.routine_vars,
                steps=[self.step_id],
                run_id=run_id,
                run_date=run_date,
                retries=False,
                deferral=deferral,
            )
        except RunLocked as exc:  # another run of the routine is on: a retry may get in
            raise RoutineStepFailed(str(exc)) from None
        except (RoutineError, PluginError) as exc:  # invalid: retrying cannot help
            raise AirflowFailException(str(exc)) from None
        task = result.tasks[0]
        if task.status == "deferred":
            self._defer(task.output, run_id, run_date)
        entry = {"routine_name": result.routine_name, "run_id": result.run_id, **task.to_dict()}
        report_checks(self.log, context["ti"], task.output)
        if task.status != "succeeded":  # the entry of a failed try, for the report
            context["ti"].xcom_push(key=ENTRY_KEY, value=entry)
            if task.refused:  # refused its args against the table (TaskRefused): no retry
                raise AirflowFailException(f"{task.step} {task.status}: {task.error}")
            raise RoutineStepFailed(f"{task.step} {task.status}: {task.error}")
        return entry

    def _defer(self, pending: dict[str, Any], run_id: str, run_date: dt.datetime) -> None:
        from lakeroutine_airflow.trigger import RoutineWaitTrigger

        self.log.info("%s: handing the wait on %s to the triggerer", self.step_id, pending["what"])
        trigger = RoutineWaitTrigger(
            routine_path=self.routine_path,
            step_id=self.step_id,
            routine_vars=self.routine_vars,
            run_id=run_id,
            run_date=run_date.isoformat(),
            wait=pending["wait"],
            interval_s=pending["interval_s"],
            waited_s=pending["waited_s"],
            state_env={name: os.environ[name] for name in STATE_ENV if name in os.environ},
        )
        self.defer(trigger=trigger, method_name="resume")
