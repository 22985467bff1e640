"""What one Dagster op does: run exactly one step of the routine and report it.

The op runs ``lakeroutine.run_routine(path, steps=[step_id], run_id=..., run_date=...,
retries=False)``: Dagster retries (the step's ``RetryPolicy``), lakeroutine tries once. Its
report entry becomes the op output's metadata; a failed task fails the op with the task's
error as the failure's description; an interrupt (a terminated run, Ctrl-C) reaches
lakeroutine as KeyboardInterrupt, so the AWS work the task started is cancelled.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster._utils.interrupts import raise_interrupts_as
from lakeroutine.errors import LakeroutineError
from lakeroutine.redact import mask
from lakeroutine.results import CANCELLED, SUCCEEDED, TaskResult
from lakeroutine.state import LockHeld as RunLocked
from lakeroutine.types import jsonable

from lakeroutine_dagster.checks import check_evaluations
from lakeroutine_dagster.logs import forwarded_logs
from lakeroutine_dagster.runs import lakeroutine_run_date, lakeroutine_run_id

if TYPE_CHECKING:
    from lakeroutine.plugins import Registry
    from lakeroutine.steps import StepInfo

OUTPUT = "done"
RESOURCE = "lakeroutine"  # run config: resources.lakeroutine.config.vars
DIGESTS_TAG = "lakeroutine/step-digests"  # run tag: {step id: digest} when definitions loaded


def run_settings() -> dg.ResourceDefinition:
    """The job's ``lakeroutine`` resource: variables given when a run is launched."""
    return dg.ResourceDefinition(
        resource_fn=lambda init: init.resource_config,
        config_schema={
            "vars": dg.Field(
                dg.Permissive(),
                is_required=False,
                default_value={},
                description="Routine variables for this run, over routine_definitions' vars",
            )
        },
        description="lakeroutine: the routine variables of a run",
    )


@dataclass(eq=False)  # hashable: Dagster keys caches by the compute function
class StepRunner:
    """The compute function shared by every op of one routine's job; the op's name
    (``context.op_handle.name``) says which step it runs."""

    path: Path
    vars: Mapping[str, Any] | None
    registry: Registry | None
    log_level: int
    steps: dict[str, StepInfo]

    # ``context`` is left unannotated: Dagster inspects the annotation and refuses the string
    # that ``from __future__ import annotations`` makes of it.
    def __call__(self, context, inputs: Any) -> Iterator[Any]:  # type: ignore[no-untyped-def]
        from lakeroutine import run_routine
        from lakeroutine.steps import check_step_digest

        step = self.steps[context.op_handle.name]
        run_id = lakeroutine_run_id(context)
        variables = {**(self.vars or {}), **getattr(context.resources, RESOURCE)["vars"]}
        try:
            check_step_digest(self.path, step.id, _digest_at_load(context, step))
            # Dagster raises its interrupt (a run terminated, Ctrl-C) as KeyboardInterrupt
            # here: lakeroutine then cancels the AWS work the task started.
            with (
                forwarded_logs(context.log, self.log_level),
                raise_interrupts_as(KeyboardInterrupt),
            ):
                result = run_routine(
                    self.path,
                    vars=variables,
                    registry=self.registry,
                    steps=[step.id],
                    run_id=run_id,
                    run_date=lakeroutine_run_date(context),
                    retries=False,
                )
        except KeyboardInterrupt:
            raise dg.DagsterExecutionInterruptedError() from None
        except RunLocked as exc:  # another run of the routine is on: a retry may get in
            raise dg.Failure(
                description=mask(str(exc)), metadata={"step": step.id, "run_id": run_id}
            ) from None
        except LakeroutineError as exc:  # invalid now (file changed, preflight): no retry
            raise dg.Failure(
                description=mask(str(exc)),
                metadata={"step": step.id, "run_id": run_id},
                allow_retries=False,
            ) from None
        entry = result.tasks[0]
        metadata = report_metadata(entry, run_id)
        # a check task's outcomes, yielded (events only logged are lost when the op fails)
        yield from check_evaluations(jsonable(entry.output))
        if entry.status == SUCCEEDED:
            run = context.dagster_run
            keys = run.step_keys_to_execute
            whole = keys is None or set(keys) >= set(self.steps) or run.parent_run_id is not None
            if step.position == len(self.steps) - 1 and whole:  # not a selection of ops
                self._routine_summary(context, result.routine_name)
            yield dg.Output(None, output_name=OUTPUT, metadata=metadata)
            return
        if entry.status == CANCELLED:  # interrupted: its AWS work was cancelled
            raise dg.DagsterExecutionInterruptedError(entry.error)
        raise dg.Failure(  # a task that refused its args (TaskRefused) would refuse again
            description=entry.error or f"{step.id} {entry.status}",
            metadata=metadata,
            allow_retries=not entry.refused,
        )

    def _routine_summary(self, context: Any, routine_name: str) -> None:
        """The routine's own summary, once its last step has succeeded in a run of the whole
        job (or a re-execution): each step runs only after the one before succeeded, in this
        run or the run a re-execution resumes."""
        from lakeroutine.wording import counted

        count = len(self.steps)
        context.log.info(
            f"routine {routine_name} succeeded: {counted(count, 'step')}: {count} succeeded"
        )


def _digest_at_load(context: Any, step: StepInfo) -> str:
    """What the step's id named when the job's definitions loaded: the run's record (a run
    worker rebuilds definitions from the file as it is now), else the op's own."""
    try:
        recorded = json.loads(context.dagster_run.tags.get(DIGESTS_TAG) or "{}")
    except ValueError:
        recorded = {}
    digest = recorded.get(step.id) if isinstance(recorded, dict) else None
    return digest if isinstance(digest, str) else step.digest


def report_metadata(entry: TaskResult, run_id: str) -> dict[str, Any]:
    """The task's report entry (``lakeroutine run --report``'s fields) as Dagster metadata."""
    report = entry.to_dict()
    metadata: dict[str, Any] = {
        "run_id": run_id,
        "step": report.get("step", f"{entry.executor}.{entry.task}"),
        "executor": entry.executor,
        "task": entry.task,
        "status": entry.status,
        "duration_s": dg.MetadataValue.float(float(report["duration_s"])),
        "attempts": dg.MetadataValue.int(entry.attempts),
    }
    output = jsonable(entry.output)
    if output is not None:
        metadata["output"] = (
            dg.MetadataValue.json(output)
            if isinstance(output, (dict, list))
            else dg.MetadataValue.text(json.dumps(output))
        )
    if entry.error:
        metadata["error"] = dg.MetadataValue.text(entry.error)
    return metadata
