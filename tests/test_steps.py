"""The step API schedulers share (lakeroutine.steps, run_routine's steps=, run_id=,
run_date=, retries=, preflight=, deferral=): ids, exact selection, one run across
processes, one retry layer, offline loading, and waits handed to a scheduler."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from core_probe import Observer, ProbeExecutor, probe_registry
from lakeroutine import Deferral, PluginError, RoutineError, hookimpl, list_steps, run_routine
from lakeroutine.plugins import load_plugins
from lakeroutine.steps import read_steps


def routine(tmp_path: Path, *blocks: tuple[str, list], **params) -> dict:
    executors = {
        label: {"executor": "ProbeExecutor", "params": {"label": label, **params}, "tasks": tasks}
        for label, tasks in blocks
    }
    return {"routine_name": "probe", "state_dir": str(tmp_path / "state"), "executors": executors}


def echo(message: str, **extra) -> dict:
    return {"task": "echo", "args": {"message": message}, **extra}


def test_each_step_has_a_stable_id_slug_and_position(tmp_path):
    spec = routine(
        tmp_path,
        ("a", ["ok", echo("one"), echo("two", retries=2, retry_delay_s=5), echo("three")]),
        ("b c", ["ok"]),
    )
    steps = list_steps(spec, registry=probe_registry())
    assert [s.id for s in steps] == ["a.ok", "a.echo", "a.echo#2", "a.echo#3", "b c.ok"]
    assert [s.slug for s in steps] == ["a__ok", "a__echo", "a__echo__2", "a__echo__3", "b_c__ok"]
    assert [s.position for s in steps] == [0, 1, 2, 3, 4]
    assert (steps[2].retries, steps[2].retry_delay_s, steps[2].task) == (2, 5.0, "echo")
    assert steps[4].to_dict()["instance"] == "b c" and steps[4].executor == "ProbeExecutor"


def test_slugs_that_collide_are_an_error_naming_both_steps(tmp_path):
    spec = routine(tmp_path, ("a.b", ["ok"]), ("a_b", ["ok"]))
    with pytest.raises(RoutineError, match=r"steps 'a\.b\.ok' and 'a_b\.ok' .*'a_b__ok'"):
        list_steps(spec, registry=probe_registry())


def test_steps_runs_exactly_the_selected_step_where_only_runs_every_same_named_task(tmp_path):
    spec = routine(tmp_path, ("a", [echo("first"), echo("second"), "ok"]))
    by_id = run_routine(spec, registry=probe_registry(), steps=["a.echo#2"])
    assert ProbeExecutor.calls == ["a.echo"]
    assert [(t.step, t.output) for t in by_id.tasks] == [("a.echo#2", {"message": "second"})]
    assert by_id.to_dict()["tasks"][0]["step"] == "a.echo#2"

    by_position = run_routine(spec, registry=probe_registry(), steps=[0, 2])
    assert [t.step for t in by_position.tasks] == ["a.echo", "a.ok"]

    by_only = run_routine(spec, registry=probe_registry(), only=["a.echo"])
    assert [t.output for t in by_only.tasks] == [{"message": "first"}, {"message": "second"}]


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        (["a.echo#3"], r"no step 'a\.echo#3' .*the routine's steps: a\.echo, a\.echo#2"),
        ([7], r"no step at position 7 \(the routine has 2: 0 to 1\)"),
        ([True], r"True is neither a step id nor a position"),
    ],
)
def test_an_unknown_step_is_an_error_before_anything_runs(tmp_path, wanted, message):
    spec = routine(tmp_path, ("a", [echo("first"), echo("second")]))
    with pytest.raises(RoutineError, match=message):
        run_routine(spec, registry=probe_registry(), steps=wanted)
    assert ProbeExecutor.calls == []


def test_run_id_and_run_date_are_shared_by_steps_run_separately(tmp_path):
    spec = routine(tmp_path, ("a", [echo("${run_id} ${run_date} ${run_ts}"), echo("x")]))
    registry = probe_registry()
    outputs = [
        run_routine(
            spec,
            registry=registry,
            steps=[step],
            run_id="manual__2026-11-01T06.00.00",
            run_date=dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.timezone.utc),
        )
        for step in ("a.echo", "a.echo#2")
    ]
    assert outputs[0].run_id == outputs[1].run_id == "manual__2026-11-01T06.00.00"
    assert outputs[0].tasks[0].output == {
        "message": "manual__2026-11-01T06.00.00 2026-11-01 2026-11-01T06:00:00Z"
    }
    as_text = run_routine(spec, registry=registry, steps=[0], run_date="2026-10-31")
    assert as_text.tasks[0].output["message"].endswith(" 2026-10-31 2026-10-31T00:00:00Z")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"run_id": "../../etc"}, r"run_id '\.\./\.\./etc': use 1 to 200 letters"),
        ({"run_id": ""}, r"run_id '': use 1 to 200"),
        ({"run_date": "yesterday"}, r"run_date 'yesterday': expected a date as YYYY-MM-DD"),
    ],
)
def test_a_bad_run_id_or_run_date_is_refused_before_anything_runs(tmp_path, kwargs, message):
    spec = routine(tmp_path, ("a", ["ok"]))
    with pytest.raises(RoutineError, match=message):
        run_routine(spec, registry=probe_registry(), **kwargs)
    assert ProbeExecutor.calls == []


def test_retries_false_leaves_retrying_to_the_scheduler(tmp_path):
    spec = routine(tmp_path, ("a", [{"task": "flaky", "retries": 3}]), fail_times=1)
    once = run_routine(spec, registry=probe_registry(), retries=False)
    assert once.status == "failed" and once.tasks[0].attempts == 1
    assert ProbeExecutor.calls == ["a.flaky"]
    looped = run_routine(spec, registry=probe_registry())  # the default: lakeroutine retries
    assert looped.status == "succeeded" and looped.tasks[0].attempts == 2


def test_preflight_false_skips_the_executors_checks(tmp_path):
    spec = routine(tmp_path, ("a", ["ok"]), preflight_fails=True)
    with pytest.raises(RoutineError, match="preflight failed on purpose"):
        run_routine(spec, registry=probe_registry())
    assert run_routine(spec, registry=probe_registry(), preflight=False).status == "succeeded"


def test_list_steps_imports_only_the_executors_the_routine_uses():
    quickstart = Path(__file__).parents[1] / "examples" / "quickstart" / "routine.json"
    script = (
        "import json, sys, lakeroutine\n"
        f"steps = lakeroutine.list_steps({str(quickstart)!r})\n"
        "mods = [m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'pyarrow', 'duckdb') or m.endswith('.executor')]\n"
        "print(json.dumps([[s.id for s in steps], sorted(mods)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    ids, modules = json.loads(out)
    assert ids == [
        "StagingExecutor.transfer",
        "StagingExecutor.post_staging",
        "sales_tables.create_table",
        "sales_tables.run_query",
    ]
    assert modules == [  # not Athena's, Glue's or Redshift's, though installed; no duckdb
        "lakeroutine.executor",
        "lakeroutine.staging.executor",
        "lakeroutine_duckdb.executor",
    ]


def job_routine(tmp_path: Path, **args) -> dict:
    return routine(tmp_path, ("a", ["ok", {"task": "job", "args": args}]))


def test_a_deferred_wait_is_probed_then_resumed_and_starts_its_work_once(tmp_path):
    spec = job_routine(tmp_path, jobs=2)
    registry = probe_registry()
    common = {"registry": registry, "steps": ["a.job"], "run_id": "r1", "retries": False}

    first = run_routine(spec, deferral=Deferral(), **common)
    assert first.status == "deferred" and first.tasks[0].status == "deferred"
    pending = first.tasks[0].output
    assert (pending["wait"], pending["done"], pending["what"]) == (
        "job r1-a-0-0",
        False,
        "job r1-a-0-0",
    )
    assert ProbeExecutor.started == ["r1-a-0-0"]

    probe = Deferral(wait="job r1-a-0-0", probe=True, waited_s=0.5)
    still = run_routine(spec, deferral=probe, preflight=False, **common)
    assert still.tasks[0].output["done"] is False
    ProbeExecutor.running["r1-a-0-0"] = "SUCCEEDED"
    ended = run_routine(spec, deferral=probe, preflight=False, **common)
    assert ended.tasks[0].output["done"] is True
    assert ProbeExecutor.started == ["r1-a-0-0"]  # probes start nothing

    resumed = run_routine(spec, deferral=Deferral(wait="job r1-a-0-0", waited_s=0.5), **common)
    assert resumed.tasks[0].output["wait"] == "job r1-a-1-1"  # the second job, in its turn
    assert ProbeExecutor.started == ["r1-a-0-0", "r1-a-1-1"]
    # the first job is not waited for again (its end is in the run state): the probe must
    # still find the second job's wait, not block on it nor start anything
    probe = Deferral(wait="job r1-a-1-1", probe=True)
    assert run_routine(spec, deferral=probe, **common).tasks[0].output["done"] is False
    ProbeExecutor.running["r1-a-1-1"] = "SUCCEEDED"
    assert run_routine(spec, deferral=probe, **common).tasks[0].output["done"] is True
    last = run_routine(spec, deferral=Deferral(wait="job r1-a-1-1"), **common)
    assert last.status == "succeeded"
    assert last.tasks[0].output == {"jobs": [["r1-a-0-0", "SUCCEEDED"], ["r1-a-1-1", "SUCCEEDED"]]}
    assert ProbeExecutor.started == ["r1-a-0-0", "r1-a-1-1"]


def test_a_probe_meeting_another_running_wait_hands_the_task_back(tmp_path):
    spec = job_routine(tmp_path, jobs=2)
    observer = Observer()
    common = {"registry": probe_registry(observer), "steps": ["a.job"], "run_id": "r3"}
    run_routine(spec, deferral=Deferral(), **common)
    started = ["routine_started:probe", "task_started:a.job", "routine_finished:deferred"]
    assert observer.events == started
    probe = Deferral(wait="job r3-a-1-9", probe=True)  # not the wait the task is at
    handed = run_routine(spec, deferral=probe, **common).tasks[0].output
    assert (handed["wait"], handed["done"]) == ("job r3-a-0-0", True)
    assert ProbeExecutor.started == ["r3-a-0-0"]
    assert observer.events == started  # a probe is not a run: no lifecycle hook


def test_a_deferred_wait_past_max_wait_stops_the_work_when_resumed(tmp_path):
    spec = job_routine(tmp_path, max_wait_s=60)
    common = {"registry": probe_registry(), "steps": ["a.job"], "run_id": "r2"}
    assert run_routine(spec, deferral=Deferral(), **common).status == "deferred"
    awaited = "job r2-a-0-0"
    late = run_routine(spec, deferral=Deferral(awaited, probe=True, waited_s=61), **common)
    assert late.tasks[0].output["done"] is True  # over time: the worker takes over
    gave_up = run_routine(spec, deferral=Deferral(awaited, waited_s=61), **common)
    assert gave_up.status == "failed"
    assert gave_up.tasks[0].error == "job r2-a-0-0 did not finish within max_wait_s=60; stopped"
    assert ProbeExecutor.running == {"r2-a-0-0": "STOPPED"}


class ByPath:
    """Registers executors by path, as the built-in and AWS plugins do."""

    def __init__(self, *registrations: tuple[str, str | None]) -> None:
        self.registrations = registrations

    @hookimpl
    def register_executors(self, register) -> None:
        for target, name in self.registrations:
            register(target, name=name)


def test_an_executor_registered_by_path_is_imported_when_a_routine_uses_it(tmp_path):
    plugin = ByPath(("core_probe:ProbeExecutor", "ProbeExecutor"), ("no_such_mod:X", "Ghost"))
    registry = load_plugins(entry_points=False, plugins=[plugin])
    assert registry.executors["ProbeExecutor"].cls is ProbeExecutor
    spec = routine(tmp_path, ("a", ["ok"]))
    assert run_routine(spec, registry=registry).status == "succeeded"
    ghost = {"routine_name": "g", "executors": {"Ghost": {"tasks": []}}}
    with pytest.raises(PluginError, match=r"executor 'Ghost' \(no_such_mod:X\) failed to import"):
        list_steps(ghost, registry=registry)


@pytest.mark.parametrize(
    ("registration", "message"),
    [
        (("core_probe:ProbeExecutor", None), r"give a class, or register\('module:Class', name="),
        (("core_probe.ProbeExecutor", "X"), r"give a class, or register"),
    ],
)
def test_a_bad_registration_by_path_is_a_plugin_error(registration, message):
    with pytest.raises(PluginError, match=message):
        load_plugins(entry_points=False, plugins=[ByPath(registration)])


def test_a_path_naming_another_executor_is_a_plugin_error(tmp_path):
    plugin = ByPath(("core_probe:ProbeExecutor", "Impostor"))
    registry = load_plugins(entry_points=False, plugins=[plugin])
    spec = {"routine_name": "i", "executors": {"Impostor": {"tasks": []}}}
    with pytest.raises(PluginError, match=r"as executor 'Impostor', but its name is 'Probe"):
        list_steps(spec, registry=registry)


def test_read_steps_gives_list_steps_ids_without_plugins_or_validation(tmp_path):
    spec = routine(
        tmp_path,
        ("a", ["ok", echo("one"), echo("two", retries=2, retry_delay_s=5, timeout_s=9)]),
        ("b c", ["ok", echo("three")]),
    )
    path = tmp_path / "routine.json"
    path.write_text(json.dumps(spec))
    assert read_steps(path) == list_steps(path, registry=probe_registry())
    quickstart = Path(__file__).parents[1] / "examples" / "quickstart" / "routine.json"
    assert read_steps(quickstart) == list_steps(quickstart)
    script = (
        "import sys, lakeroutine.steps as s\n"
        f"s.read_steps({str(quickstart)!r})\n"
        "print(sorted(m for m in ('lakeroutine.routine', 'lakeroutine.plugins', 'pydantic') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_read_steps_of_a_malformed_file_says_where(tmp_path):
    path = tmp_path / "routine.json"
    path.write_text('{"routine_name": "x",\n "executors": {')
    with pytest.raises(RoutineError, match=r"routine\.json: malformed JSON at line 2, column 16"):
        read_steps(path)
    path.write_text('{"routine_name": "x"}')
    with pytest.raises(RoutineError, match=r"field 'executors': the routine has no executors"):
        read_steps(path)


def test_a_step_id_that_came_to_name_another_task_is_refused_within_its_run(tmp_path):
    """A scheduler reads the file again for every step: when a task is inserted before a
    duplicate between two steps of one run, ``a.echo#2`` would now run "first"."""
    path = tmp_path / "routine.json"
    spec = routine(tmp_path, ("a", [echo("first"), echo("second")]))
    path.write_text(json.dumps(spec))
    ids = [s.id for s in read_steps(path)]
    assert ids == [s.id for s in list_steps(path, registry=probe_registry())]  # both digests
    assert [s.digest for s in read_steps(path)] == [
        s.digest for s in list_steps(path, registry=probe_registry())
    ]
    one_run = {"run_id": "sched-1", "run_date": "2026-11-01", "registry": probe_registry()}
    first = run_routine(path, steps=["a.echo"], **one_run)
    assert first.status == "succeeded"

    spec["executors"]["a"]["tasks"].insert(0, echo("inserted"))
    path.write_text(json.dumps(spec))
    ProbeExecutor.calls.clear()
    with pytest.raises(RoutineError) as refused:
        run_routine(path, steps=["a.echo#2"], **one_run)
    message = str(refused.value)
    assert "step 'a.echo#2' names another task than when run sched-1 began" in message
    assert "the task it named is now step 'a.echo#3'" in message
    assert ProbeExecutor.calls == []  # nothing ran

    # the step that still names its task runs; a new run starts from the file as it is
    assert run_routine(path, steps=["a.echo#3"], **one_run).tasks[0].output == {"message": "second"}
    again = run_routine(path, steps=["a.echo#2"], **{**one_run, "run_id": "sched-2"})
    assert again.tasks[0].output == {"message": "first"}
