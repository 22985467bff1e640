"""What lakeroutine-openlineage costs per task, next to the OpenLineage client emitting the
same events itself.

A routine of N tasks (1,000 by default) that each declare one output location
(``ctx.lineage.wrote``) is run with a registry built in code, without and with the lineage
plugin; its events go through the client's file transport (``append: true``) to a temporary
file, configured by an ``openlineage.yml`` as users do. The run's time includes the end of the
run's wait for every event to be written, so the difference is the whole cost of lineage.

The anchor, measured side by side: the ``openlineage-python`` client building and emitting
the same two events per task in line (``RunEvent`` + ``client.emit``) to the same transport,
as an integration emitting synchronously would.

Every round runs the three once, the order reversed every other round; figures are
microseconds per task (best and median of the rounds), and the overhead is the median of
each round's paired difference (with lineage minus without), wall and CPU, with the load
average beside it. The target is under 1 ms of wall time per task.

    .venv/bin/python benchmarks/openlineage_overhead.py [--tasks 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lakeroutine import hookimpl
from lakeroutine.executor import Executor, task
from lakeroutine.lineage import Location
from lakeroutine.orchestrator import run_routine
from lakeroutine.plugins import load_plugins

TARGET_US = 1000.0


class DeclaringExecutor(Executor):
    """One task that only declares the location it wrote."""

    name = "DeclaringExecutor"

    @task
    def write(self, ctx: Any) -> dict[str, Any]:
        ctx.lineage.wrote(Location("s3://lake/staging/sales/", files=3, bytes=4096))
        return {}


class DeclaringPlugin:
    @hookimpl
    def register_executors(self, register: Callable[[type], None]) -> None:
        register(DeclaringExecutor)


def timed(function: Callable[[], Any]) -> tuple[float, float]:
    """(wall, CPU of every thread of the process) seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def client_anchor(tasks: int) -> Callable[[], None]:
    """The client alone: the same two events per task (parent, job type and processing
    engine facets; the output with its statistics), built and emitted in line."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import job_type_job, parent_run, processing_engine_run
    from openlineage.client.facet_v2 import output_statistics_output_dataset as stats

    client = OpenLineageClient()
    producer = "https://example.invalid/anchor"

    def emit_all() -> None:
        parent = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=str(uuid.uuid4())),
            job=parent_run.Job(namespace="anchor", name="routine"),
        )
        engine = processing_engine_run.ProcessingEngineRunFacet(version="1", name="anchor")
        kind = job_type_job.JobTypeJobFacet(processingType="BATCH", integration="ANCHOR")
        for i in range(tasks):
            run_id = str(uuid.uuid4())
            job = Job(namespace="anchor", name=f"routine.block.write#{i}", facets={"jobType": kind})
            for state in (RunState.START, RunState.COMPLETE):
                outputs = []
                if state == RunState.COMPLETE:
                    facet = stats.OutputStatisticsOutputDatasetFacet(size=4096, fileCount=3)
                    outputs = [
                        OutputDataset(
                            namespace="s3://lake",
                            name="staging/sales",
                            outputFacets={"outputStatistics": facet},
                        )
                    ]
                run = Run(runId=run_id, facets={"parent": parent, "processing_engine": engine})
                event = RunEvent(
                    eventType=state,
                    eventTime=dt.datetime.now(dt.timezone.utc).isoformat(),
                    run=run,
                    job=job,
                    outputs=outputs,
                    producer=producer,
                )
                client.emit(event)

    return emit_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    import lakeroutine_openlineage.plugin as lineage

    folder = Path(tempfile.mkdtemp(prefix="lakeroutine-ol-bench-"))
    events = folder / "events.jsonl"
    config = folder / "openlineage.yml"
    config.write_text(f"transport:\n  type: file\n  log_file_path: {events}\n  append: true\n")
    os.environ["OPENLINEAGE_CONFIG"] = str(config)
    source = {
        "routine_name": "bench",
        "state_dir": str(folder / "state"),
        "executors": {"DeclaringExecutor": {"tasks": ["write"] * args.tasks}},
    }
    plain = load_plugins(entry_points=False, plugins=[DeclaringPlugin()])
    observed = load_plugins(entry_points=False, plugins=[DeclaringPlugin(), lineage])

    def run(registry: Any) -> Callable[[], None]:
        def go() -> None:
            result = run_routine(source, registry=registry)
            assert result.status == "succeeded"

        return go

    run(observed)()  # warm up: imports the client, builds it once
    written = len(events.read_text().splitlines())
    assert written == 2 * args.tasks, written
    kinds = {
        "run without lineage": run(plain),
        "run with lakeroutine-openlineage": run(observed),
        "anchor: openlineage-python in line": client_anchor(args.tasks),
    }
    timings: dict[str, list[tuple[float, float]]] = {name: [] for name in kinds}
    names = list(kinds)
    for number in range(args.repeat):  # alternating, so the machine's load hits each alike
        for name in names if number % 2 == 0 else names[::-1]:
            timings[name].append(timed(kinds[name]))
    lines = len(events.read_text().splitlines())
    expected = 2 * args.tasks * (1 + args.repeat * 2)
    assert lines == expected, (lines, expected)

    def per_task(name: str, which: int) -> tuple[float, float]:
        values = [t[which] / args.tasks * 1e6 for t in timings[name]]
        return min(values), statistics.median(values)

    def paired(name: str, which: int) -> float:
        """Median over rounds of ``name`` minus the run without lineage, per task."""
        base = timings["run without lineage"]
        return statistics.median(
            (t[which] - b[which]) / args.tasks * 1e6
            for t, b in zip(timings[name], base, strict=True)
        )

    out = sys.stdout.write
    out(f"{args.tasks} tasks, {args.repeat} alternating rounds, load {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores; microseconds per task (best, median)\n")  # fmt: skip
    out(f"  {'':<38} {'wall':>9} {'':>9} {'CPU':>9} {'':>9}\n")
    for name in kinds:
        wall, cpu = per_task(name, 0), per_task(name, 1)
        out(f"  {name:<38} {wall[0]:9.1f} {wall[1]:9.1f} {cpu[0]:9.1f} {cpu[1]:9.1f}\n")
    lineage, anchor = "run with lakeroutine-openlineage", "anchor: openlineage-python in line"
    wall, cpu = paired(lineage, 0), paired(lineage, 1)
    out(f"  {'lineage overhead per task (paired median)':<38} {wall:9.1f} {'':>9} {cpu:9.1f}\n")
    ratio = wall / per_task(anchor, 0)[1]
    out(f"  {'overhead / anchor (wall, medians)':<38} {ratio:9.2f}x\n")
    verdict = "met" if wall < TARGET_US else "NOT met"
    out(f"  target: wall overhead < {TARGET_US:.0f} us per task: {verdict}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
