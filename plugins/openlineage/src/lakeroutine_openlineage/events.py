"""OpenLineage run events for one routine task: START, then COMPLETE, FAIL or ABORT.

One OpenLineage run per routine task: its job is ``ROUTINE.STEP_ID`` (``sales_daily.
StagingExecutor.transfer``), its run id a UUID derived from the routine's run id and the step,
so every process running a step of one routine run (the CLI, an Airflow worker, a Dagster op)
gives the same ids. The parent run facet names the routine's run (job ``ROUTINE``); under
Airflow its root names Airflow's DAG run.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from lakeroutine import __version__ as lakeroutine_version
from lakeroutine.lineage import Assertion, Location, Table, TaskLineage
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    data_quality_assertions_dataset,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
    processing_engine_run,
    schema_dataset,
    sql_job,
    symlinks_dataset,
)

from lakeroutine_openlineage import __version__
from lakeroutine_openlineage.naming import DatasetName, location_name, table_name

PRODUCER = f"https://github.com/lakeroutine/lakeroutine/tree/{__version__}/plugins/openlineage"
DEFAULT_NAMESPACE = "lakeroutine"
_IDS = uuid.UUID("6f3c1e52-8d0b-4c55-9a57-1c2a3e0f4b7d")  # the namespace of our uuid5 ids


def job_namespace(env: Mapping[str, str] = os.environ) -> str:
    """The jobs' namespace: ``OPENLINEAGE_NAMESPACE``, as OpenLineage integrations read it."""
    return env.get("OPENLINEAGE_NAMESPACE") or DEFAULT_NAMESPACE


def run_uuid(*parts: str) -> str:
    """A stable run id: the same parts give the same UUID in every process."""
    return str(uuid.uuid5(_IDS, "\x1f".join(parts)))


class TaskRun:
    """The identity of one routine task's OpenLineage run, and the events that tell it."""

    def __init__(
        self,
        routine_name: str,
        run_id: str,
        step: str,
        *,
        namespace: str,
        root: tuple[str, str] | None = None,
    ) -> None:
        self.namespace = namespace
        self.job_name = f"{routine_name}.{step}"
        self.run_id = run_uuid(namespace, routine_name, run_id, step)
        self.parent_job = routine_name
        self.parent_run_id = run_uuid(namespace, routine_name, run_id)
        self.root = root  # (job name, run id) of a scheduler's run above the routine's
        self._parent_facet: parent_run.ParentRunFacet | None = None

    def event(
        self,
        state: RunState,
        *,
        lineage: TaskLineage | None = None,
        error: str | None = None,
        mask: Callable[[str], str] = str,
    ) -> RunEvent:
        """The event of ``state``, with what ``lineage`` declares and ``error``; ``mask``
        takes the secrets out of the SQL and the error."""
        if self._parent_facet is None:
            self._parent_facet = _parent_facet(
                self.namespace, self.parent_job, self.parent_run_id, self.root
            )
        run_facets: dict[str, Any] = {"parent": self._parent_facet, "processing_engine": _ENGINE}
        job_facets: dict[str, Any] = {"jobType": _JOB_TYPE}
        inputs: list[InputDataset] = []
        outputs: list[OutputDataset] = []
        if lineage is not None:
            inputs = [_input(item, lineage.assertions.get(item)) for item in lineage.inputs]
            outputs = [_output(item) for item in lineage.outputs]
            if lineage.sql:
                job_facets["sql"] = sql_job.SQLJobFacet(
                    query=mask(lineage.sql), dialect=lineage.dialect, producer=PRODUCER
                )
        if error is not None:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=mask(error), programmingLanguage="python", producer=PRODUCER
            )
        return RunEvent(
            eventType=state,
            eventTime=dt.datetime.now(dt.timezone.utc).isoformat(),
            run=Run(runId=self.run_id, facets=run_facets),
            job=Job(namespace=self.namespace, name=self.job_name, facets=job_facets),
            inputs=inputs,
            outputs=outputs,
            producer=PRODUCER,
        )


@lru_cache(maxsize=64)
def _parent_facet(
    namespace: str, job: str, run_id: str, root: tuple[str, str] | None
) -> parent_run.ParentRunFacet:
    """The routine's run (and a scheduler's above it): one facet for all its tasks."""
    above = None
    if root is not None:
        root_job, root_run = root
        above = parent_run.Root(
            run=parent_run.RootRun(runId=root_run),
            job=parent_run.RootJob(namespace=namespace, name=root_job),
        )
    return parent_run.ParentRunFacet(
        run=parent_run.Run(runId=run_id),
        job=parent_run.Job(namespace=namespace, name=job),
        root=above,
        producer=PRODUCER,
    )


_ENGINE = processing_engine_run.ProcessingEngineRunFacet(
    version=lakeroutine_version,
    name="lakeroutine",
    openlineageAdapterVersion=__version__,
    producer=PRODUCER,
)
_JOB_TYPE = job_type_job.JobTypeJobFacet(
    processingType="BATCH", integration="LAKEROUTINE", jobType="TASK", producer=PRODUCER
)


def _identity(item: Location | Table) -> tuple[DatasetName, dict[str, Any]]:
    """The dataset's name and its facets (schema; for a table with files, a symlink)."""
    facets: dict[str, Any] = {}
    if isinstance(item, Location):
        return location_name(item), facets
    name = table_name(item)
    if item.columns:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in item.columns
            ],
            producer=PRODUCER,
        )
    if item.location:
        where = location_name(Location(item.location))
        facets["symlinks"] = symlinks_dataset.SymlinksDatasetFacet(
            identifiers=[
                symlinks_dataset.Identifier(
                    namespace=where.namespace, name=where.name, type="LOCATION"
                )
            ],
            producer=PRODUCER,
        )
    return name, facets


def _counts(item: Location | Table) -> tuple[int | None, int | None, int | None]:
    if isinstance(item, Location):
        return item.rows, item.bytes, item.files
    return item.rows, None, None


def _input(item: Location | Table, checked: list[Assertion] | None = None) -> InputDataset:
    name, facets = _identity(item)
    rows, size, files = _counts(item)
    input_facets: dict[str, Any] = {}
    if checked:
        input_facets["dataQualityAssertions"] = _assertions(checked)
    if (rows, size, files) != (None, None, None):
        input_facets["inputStatistics"] = (
            input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                rowCount=rows, size=size, fileCount=files, producer=PRODUCER
            )
        )
    return InputDataset(
        namespace=name.namespace, name=name.name, facets=facets, inputFacets=input_facets
    )


def _assertions(checked: list[Assertion]) -> Any:
    """The data quality tests run on an input, as the assertions facet tells them."""
    facet = data_quality_assertions_dataset
    return facet.DataQualityAssertionsDatasetFacet(
        assertions=[
            facet.Assertion(
                assertion=a.assertion,
                success=a.success,
                column=a.column,
                **({"name": a.name} if a.name and _NAMED else {}),
                **({"severity": a.severity} if a.severity and _NAMED else {}),
            )
            for a in checked
        ],
        producer=PRODUCER,
    )


_NAMED = "severity" in getattr(data_quality_assertions_dataset.Assertion, "__annotations__", {})
"""Clients before 1.3x know only assertion, success and column."""


def _output(item: Location | Table) -> OutputDataset:
    name, facets = _identity(item)
    rows, size, files = _counts(item)
    output_facets: dict[str, Any] = {}
    if (rows, size, files) != (None, None, None):
        output_facets["outputStatistics"] = (
            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=rows, size=size, fileCount=files, producer=PRODUCER
            )
        )
    return OutputDataset(
        namespace=name.namespace, name=name.name, facets=facets, outputFacets=output_facets
    )
