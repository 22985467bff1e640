"""routine_definitions builds the job without running anything: one op per routine task,
chained in order, valid unique names, retry policies, errors at load, and light imports."""

from __future__ import annotations

import json
import re
import runpy
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from lakeroutine import RoutineError
from lakeroutine.step_ids import task_digest
from lakeroutine_dagster import routine_definitions

QUICKSTART = Path(__file__).parents[3] / "examples" / "quickstart" / "routine.json"


def chain(job: dg.JobDefinition) -> list[str]:
    """The job's ops in dependency order, checking that each depends on exactly the one
    before it."""
    upstream = {
        invocation.alias: [d.node for d in deps.values()]
        for invocation, deps in job.graph.dependencies.items()
    }
    order = [name for name, before in upstream.items() if not before]
    assert len(order) == 1, upstream
    while len(order) < len(upstream):
        following = [name for name, before in upstream.items() if before == [order[-1]]]
        assert len(following) == 1, (order, upstream)
        order.append(following[0])
    assert sorted(order) == sorted(n.name for n in job.graph.nodes)
    return order


def printed_by(script: str) -> Any:
    """The JSON a Python script run in a fresh process prints last."""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_one_op_per_task_chained_in_the_routines_order(probe_routine, registry):
    path = probe_routine(
        ("first", ["ok", {"task": "echo", "args": {"message": "a"}}, "noop"]),
        ("sales tables-2", ["ok"]),
        ("first_again", ["noop"]),
        name="daily sales",
    )
    defs = routine_definitions(path, registry=registry)
    job = defs.get_job_def("daily_sales")
    assert chain(job) == [
        "first__ok",
        "first__echo",
        "first__noop",
        "sales_tables_2__ok",
        "first_again__noop",
    ]
    node = job.graph.node_named("sales_tables_2__ok")
    assert node.tags["lakeroutine/step"] == "sales tables-2.ok"
    assert (node.tags["lakeroutine/executor"], node.tags["lakeroutine/task"]) == (
        "ProbeExecutor",
        "ok",
    )


def test_a_task_run_twice_by_one_executor_gets_unique_valid_names(probe_routine, registry):
    echo = {"task": "echo", "args": {"message": "x"}}
    path = probe_routine(("a", [echo, "ok", echo, echo]))
    job = routine_definitions(path, registry=registry).get_job_def("probe")
    names = chain(job)
    assert names == ["a__echo", "a__ok", "a__echo__2", "a__echo__3"]
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", name) for name in names)
    assert [job.graph.node_named(n).tags["lakeroutine/step"] for n in names] == [
        "a.echo",
        "a.ok",
        "a.echo#2",
        "a.echo#3",
    ]


def test_the_quickstart_routine_becomes_a_job_of_four_ops():
    job = routine_definitions(QUICKSTART).get_job_def("quickstart_sales")
    assert chain(job) == [
        "StagingExecutor__transfer",
        "StagingExecutor__post_staging",
        "sales_tables__create_table",
        "sales_tables__run_query",
    ]


def test_a_routine_without_tasks_is_a_job_without_ops(probe_routine, registry):
    job = routine_definitions(probe_routine(("a", [])), registry=registry).get_job_def("probe")
    assert list(job.graph.nodes) == []
    assert job.execute_in_process().success


def test_retries_and_retry_delay_become_the_ops_retry_policy(probe_routine, registry):
    path = probe_routine(
        ("a", ["ok", {"task": "flaky", "retries": 3, "retry_delay_s": 2.5}]),
        ("b", [{"task": "noop", "retries": 1}]),
    )
    job = routine_definitions(path, registry=registry).get_job_def("probe")
    assert job.graph.node_named("a__ok").retry_policy is None
    assert job.graph.node_named("a__flaky").retry_policy == dg.RetryPolicy(max_retries=3, delay=2.5)
    assert job.graph.node_named("b__noop").retry_policy == dg.RetryPolicy(max_retries=1)


def test_options_name_the_job_schedule_it_and_reach_the_job(probe_routine, registry):
    path = probe_routine(("a", ["ok"]))
    defs = routine_definitions(
        path,
        registry=registry,
        job_name="nightly",
        schedule="0 3 * * *",
        tags={"team": "lake"},
        description="The nightly lake routine",
    )
    job = defs.get_job_def("nightly")
    assert job.tags == {
        "lakeroutine/routine": "probe",
        "lakeroutine/step-digests": json.dumps({"a.ok": task_digest("ProbeExecutor", "ok", {})}),
        "team": "lake",
    }
    assert job.description == "The nightly lake routine"
    assert job.metadata["lakeroutine/routine"].value == str(path)
    (schedule,) = defs.get_repository_def().schedule_defs
    assert schedule.cron_schedule == "0 3 * * *" and schedule.job_name == "nightly"
    with pytest.raises(ValueError, match="job_name 'night-ly'"):
        routine_definitions(path, registry=registry, job_name="night-ly")


def test_two_routines_merge_into_one_code_location(probe_routine, registry):
    first = routine_definitions(probe_routine(("a", ["ok"]), name="one"), registry=registry)
    second = routine_definitions(probe_routine(("a", ["ok"]), name="two"), registry=registry)
    merged = dg.Definitions.merge(first, second)
    dg.Definitions.validate_loadable(merged)
    assert {job.name for job in merged.get_repository_def().get_all_jobs()} >= {"one", "two"}


def test_an_invalid_routine_raises_one_error_naming_the_file_and_field(tmp_path, registry):
    path = tmp_path / "bad.json"
    spec = {
        "routine_name": "bad",
        "executors": {
            "a": {"executor": "ProbeExecutor", "params": {"fail_times": -1}, "tasks": ["ok"]}
        },
    }
    path.write_text(json.dumps(spec))
    with pytest.raises(RoutineError) as caught:
        routine_definitions(path, registry=registry)
    message = str(caught.value)
    assert message.startswith(f"{path}, executor 'a', field 'params.fail_times': ")
    assert "greater than or equal to 0" in message


def test_an_unknown_task_is_named_with_its_position(tmp_path, registry):
    path = tmp_path / "bad.json"
    spec = {
        "routine_name": "bad",
        "executors": {"a": {"executor": "ProbeExecutor", "tasks": ["ok", "okay"]}},
    }
    path.write_text(json.dumps(spec))
    with pytest.raises(RoutineError, match=r"task 'okay', field 'tasks\[1\]': unknown task"):
        routine_definitions(path, registry=registry)


def test_a_missing_routine_file_is_a_routine_error(tmp_path):
    with pytest.raises(RoutineError, match=r"missing\.json: file not found"):
        routine_definitions(tmp_path / "missing.json")
    with pytest.raises(TypeError, match="takes the routine file's path, not dict"):
        routine_definitions({"routine_name": "x", "executors": {}})  # type: ignore[arg-type]


def test_loading_imports_no_aws_sdk_arrow_or_duckdb(tmp_path):
    """A routine using staging, DuckDB, Athena, Glue and Redshift: loading its definitions
    imports their param and arg models only, none of the heavy libraries."""
    routine = {
        "routine_name": "every_executor",
        "executors": {
            **json.loads(QUICKSTART.read_text())["executors"],
            "AthenaExecutor": {
                "params": {"database": "lake", "output_location": "s3://results/athena/"},
                "tasks": [{"task": "run_query", "args": {"sql": "SELECT 1"}}],
            },
            "GlueExecutor": {
                "params": {"database": "lake"},
                "tasks": ["create_database"],
            },
            "RedshiftExecutor": {
                "params": {"database": "dev", "workgroup_name": "wg"},
                "tasks": [{"task": "execute_sql", "args": {"sql": "SELECT 1"}}],
            },
        },
    }
    examples = tmp_path / "routine.json"
    examples.write_text(json.dumps(routine))
    (tmp_path / "lake" / "landing" / "sales").mkdir(parents=True)
    script = (
        "import json, sys\n"
        "import dagster\n"
        "from lakeroutine_dagster import routine_definitions\n"
        f"defs = routine_definitions({str(examples)!r})\n"
        "job = defs.get_job_def('every_executor')\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'pyarrow', 'duckdb')]\n"
        "print(json.dumps([len(job.graph.nodes), sorted(heavy)]))\n"
    )
    assert printed_by(script) == [7, []]


def test_a_relative_path_is_taken_from_the_calling_files_folder(tmp_path, monkeypatch):
    folder = tmp_path / "code"
    folder.mkdir()
    shutil.copy(QUICKSTART, folder / "routine.json")
    (folder / "defs.py").write_text(
        "from lakeroutine_dagster import routine_definitions\n"
        "defs = routine_definitions('routine.json')\n"
    )
    monkeypatch.chdir(tmp_path)  # not the definitions file's folder
    defs = runpy.run_path(str(folder / "defs.py"))["defs"]
    job = defs.get_job_def("quickstart_sales")
    assert job.metadata["lakeroutine/routine"].value == str(folder / "routine.json")


RECONSTRUCTING = (
    "from dagster._core.definitions.definitions_load_context import (\n"
    "    DefinitionsLoadContext, DefinitionsLoadType)\n"
    "DefinitionsLoadContext.set(\n"  # what Dagster sets in a run or step worker
    "    DefinitionsLoadContext(load_type=DefinitionsLoadType.RECONSTRUCTION))\n"
)


@pytest.mark.parametrize("worker", [False, True], ids=["code location", "run or step worker"])
def test_a_worker_rebuilding_definitions_reads_the_steps_without_validating(tmp_path, worker):
    """Dagster loading a code location validates the routine (and imports the executors it
    uses); a run or step worker rebuilding the definitions only reads the steps (each op
    validates as it starts), so it imports no plugin or executor and accepts a routine that
    has become invalid: the op will fail, naming the field."""
    bad = json.loads(QUICKSTART.read_text())
    bad["executors"]["StagingExecutor"]["params"]["archive_or_delete"] = "archiv"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    script = (
        "import json, sys\n"
        + (RECONSTRUCTING if worker else "")
        + "from lakeroutine_dagster import routine_definitions\n"
        f"job = routine_definitions({str(QUICKSTART)!r}).get_job_def('quickstart_sales')\n"
        "try:\n"
        f"    routine_definitions({str(tmp_path / 'bad.json')!r})\n"
        "    bad = 'loaded'\n"
        "except Exception as exc:\n"
        "    bad = type(exc).__name__\n"
        "mods = sorted(m for m in sys.modules if m.startswith('lakeroutine') and "
        "(m.endswith('.plugins') or m.endswith('.executor')))\n"
        "print(json.dumps([sorted(n.name for n in job.graph.nodes), bad, mods]))\n"
    )
    nodes, bad_outcome, modules = printed_by(script)
    assert nodes == [
        "StagingExecutor__post_staging",
        "StagingExecutor__transfer",
        "sales_tables__create_table",
        "sales_tables__run_query",
    ]
    if worker:
        assert (bad_outcome, modules) == ("loaded", [])
    else:
        assert bad_outcome == "RoutineError"
        assert modules == [
            "lakeroutine.executor",
            "lakeroutine.plugins",
            "lakeroutine.staging.executor",
            "lakeroutine_duckdb.executor",
        ]


def test_the_distribution_adds_no_lakeroutine_plugin():
    """Nothing of lakeroutine-dagster loads with lakeroutine's plugins, so the CLI never
    imports Dagster."""
    dist = metadata.distribution("lakeroutine-dagster")
    assert [ep for ep in dist.entry_points if ep.group == "lakeroutine"] == []
    requires = dist.requires or []
    assert any(r.startswith("dagster>=1.10") for r in requires), requires
