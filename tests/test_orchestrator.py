"""The orchestrator: order, failures, keep-going, retries, timeouts, hooks, secrets."""

from __future__ import annotations

import json
import logging

import pytest
from core_probe import Observer, ProbeExecutor, probe_registry
from lakeroutine.errors import RoutineError
from lakeroutine.orchestrator import run_routine


def routine(*blocks: tuple[str, dict], **extra) -> dict:
    return {"routine_name": "probe", "executors": dict(blocks), **extra}


def block(label: str, tasks: list, **params) -> tuple[str, dict]:
    return label, {
        "executor": "ProbeExecutor",
        "params": {"label": label, **params},
        "tasks": tasks,
    }


def test_executors_in_file_order_tasks_in_listed_order(tmp_path):
    observer = Observer()
    registry = probe_registry(observer)
    spec = routine(
        block("b", ["ok", "echo" and {"task": "echo", "args": {"message": "x"}}]),
        block("a", ["ok"]),
        state_dir=str(tmp_path),
    )
    result = run_routine(spec, registry=registry)
    assert result.status == "succeeded" and result.ok
    assert ProbeExecutor.calls == ["b.ok", "b.echo", "a.ok"]
    assert [(t.executor, t.task, t.status) for t in result.tasks] == [
        ("b", "ok", "succeeded"),
        ("b", "echo", "succeeded"),
        ("a", "ok", "succeeded"),
    ]
    assert result.tasks[0].output == {"label": "b"}
    assert result.tasks[1].output == {"message": "x"}
    assert observer.events == [
        "routine_started:probe",
        "task_started:b.ok",
        "task_finished:b.ok",
        "task_started:b.echo",
        "task_finished:b.echo",
        "task_started:a.ok",
        "task_finished:a.ok",
        "routine_finished:succeeded",
    ]


def test_stops_at_first_failure(tmp_path):
    registry = probe_registry()
    spec = routine(block("a", ["ok", "fail", "ok"]), block("b", ["ok"]), state_dir=str(tmp_path))
    result = run_routine(spec, registry=registry)
    assert result.status == "failed"
    assert ProbeExecutor.calls == ["a.ok", "a.fail"]
    assert [t.status for t in result.tasks] == ["succeeded", "failed", "skipped", "skipped"]
    assert "failed on purpose" in result.tasks[1].error


def test_keep_going_skips_the_rest_of_the_failed_executor_only(tmp_path):
    registry = probe_registry()
    spec = routine(block("a", ["fail", "ok"]), block("b", ["ok"]), state_dir=str(tmp_path))
    result = run_routine(spec, registry=registry, keep_going=True)
    assert result.status == "failed"
    assert ProbeExecutor.calls == ["a.fail", "b.ok"]
    assert [t.status for t in result.tasks] == ["failed", "skipped", "succeeded"]


def test_retries_until_success_and_reports_attempts(tmp_path):
    observer = Observer()
    registry = probe_registry(observer)
    spec = routine(
        block("a", [{"task": "flaky", "retries": 3}], fail_times=2), state_dir=str(tmp_path)
    )
    result = run_routine(spec, registry=registry)
    (task,) = result.tasks
    assert task.status == "succeeded" and task.attempts == 3 and task.output == {"attempts": 3}
    assert observer.events.count("task_failed:a.flaky:True") == 2


def test_retries_exhausted(tmp_path):
    observer = Observer()
    registry = probe_registry(observer)
    spec = routine(
        block("a", [{"task": "flaky", "retries": 1}], fail_times=5), state_dir=str(tmp_path)
    )
    result = run_routine(spec, registry=registry)
    assert result.tasks[0].status == "failed" and result.tasks[0].attempts == 2
    assert result.tasks[0].error == "RuntimeError: attempt 2 failed"
    assert observer.events[-2:] == ["task_failed:a.flaky:False", "routine_finished:failed"]


def test_timeout_cancels_the_task_and_runs_its_cancel_callbacks(tmp_path):
    registry = probe_registry()
    spec = routine(block("a", [{"task": "wait", "timeout_s": 0.2}, "ok"]), state_dir=str(tmp_path))
    result = run_routine(spec, registry=registry)
    assert result.tasks[0].status == "failed"
    assert "did not finish within 0.2 s" in result.tasks[0].error
    assert "a.cancelled" in ProbeExecutor.calls
    assert result.tasks[1].status == "skipped"


def test_only_and_dry_run(tmp_path):
    registry = probe_registry()
    spec = routine(block("a", ["ok", "noop"]), block("b", ["ok"]), state_dir=str(tmp_path))
    result = run_routine(spec, registry=registry, only=["a.noop", "b"])
    assert [(t.executor, t.task) for t in result.tasks] == [("a", "noop"), ("b", "ok")]
    planned = run_routine(spec, registry=registry, dry_run=True)
    assert planned.status == "planned" and [t.status for t in planned.tasks] == ["planned"] * 3
    assert ProbeExecutor.calls == ["b.ok"]
    with pytest.raises(RoutineError, match="no executor 'c'"):
        run_routine(spec, registry=registry, only=["c"])
    with pytest.raises(RoutineError, match="does not run task 'fail'"):
        run_routine(spec, registry=registry, only=["a.fail"])


def test_invalid_routine_runs_nothing(tmp_path):
    registry = probe_registry()
    spec = routine(block("a", ["ok"]), block("b", ["nope"]), state_dir=str(tmp_path))
    with pytest.raises(RoutineError):
        run_routine(spec, registry=registry)
    assert ProbeExecutor.calls == []


def test_secrets_never_reach_errors_reports_or_logs(tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.setenv("PROBE_PASSWORD", "hunter2-very-secret")
    registry = probe_registry()
    spec = routine(block("a", ["fail"], password="${env:PROBE_PASSWORD}"), state_dir=str(tmp_path))
    with caplog.at_level(logging.DEBUG, logger="lakeroutine"):
        result = run_routine(spec, registry=registry)
    report = json.dumps(result.to_dict())
    assert "failed on purpose (password was ***)" in result.tasks[0].error
    assert "hunter2" not in report
    assert "hunter2" not in caplog.text
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # logging only, no prints


def test_state_is_kept_across_attempts_and_cleared_on_success(tmp_path):
    from lakeroutine import hookimpl
    from lakeroutine.executor import Executor, task

    class Stateful(Executor):
        seen: list = []

        @task
        def remember(self, ctx):
            self.seen.append(ctx.state.get("id"))
            if ctx.state.get("id") is None:
                ctx.state.set("id", "query-1")
                raise RuntimeError("lost connection after starting query-1")
            return {"reattached_to": ctx.state.get("id")}

    class Plugin:
        @hookimpl
        def register_executors(self, register):
            register(Stateful)

    registry = probe_registry(Plugin())
    spec = {
        "routine_name": "s",
        "state_dir": str(tmp_path),
        "executors": {"Stateful": {"tasks": [{"task": "remember", "retries": 1}]}},
    }
    result = run_routine(spec, registry=registry)
    assert result.tasks[0].output == {"reattached_to": "query-1"}
    assert Stateful.seen == [None, "query-1"]
    run_routine(spec, registry=registry)  # succeeded before, so the next run starts afresh
    assert Stateful.seen == [None, "query-1", None, "query-1"]


def test_sigterm_cancels_the_running_task_like_ctrl_c(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    spec = routine(block("a", ["ok", "wait", "ok"]), state_dir=str(tmp_path))
    path = tmp_path / "r.json"
    path.write_text(json.dumps(spec))
    from core_probe import install_probe_distribution

    install_probe_distribution(tmp_path / "site")
    tests = Path(__file__).parent
    env = {
        **os.environ,
        "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{tests}",
        "LAKEROUTINE_PLUGINS": "probe",
    }
    report = tmp_path / "report.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "lakeroutine.cli", "run", str(path), "--report", str(report)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    seen = ""  # read the log until the 'wait' task (10 s long) has started, however loaded
    while "task a.wait started" not in seen:
        line = process.stderr.readline()
        assert line, seen
        seen += line
    time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=20)
    err = seen + err
    assert process.returncode == 130, err
    assert "task a.wait cancelled by interrupt" in err
    assert "cancel callback of a ran" in err
    data = json.loads(report.read_text())
    assert data["status"] == "cancelled"
    assert [t["status"] for t in data["tasks"]] == ["succeeded", "cancelled", "skipped"]


class Broken:
    """An observer whose hooks raise, as a plugin with a bug would."""

    def __init__(self, *hooks: str) -> None:
        self.hooks = hooks

    def _maybe(self, name: str) -> None:
        if name in self.hooks:
            raise ConnectionError(f"notification service down in {name}")


def broken_plugin(*hooks: str):
    from lakeroutine import hookimpl

    class BrokenObserver(Broken):
        @hookimpl
        def routine_started(self):
            self._maybe("routine_started")

        @hookimpl
        def task_started(self):
            self._maybe("task_started")

        @hookimpl
        def task_finished(self):
            self._maybe("task_finished")

        @hookimpl
        def task_failed(self):
            self._maybe("task_failed")

        @hookimpl
        def routine_finished(self):
            self._maybe("routine_finished")

    return BrokenObserver(*hooks)


@pytest.mark.parametrize("hook", ["task_started", "task_finished"])
def test_a_task_hook_that_raises_fails_that_task_and_names_the_plugin(tmp_path, hook):
    registry = probe_registry(broken_plugin(hook))
    result = run_routine(
        routine(block("a", ["ok", "ok"]), state_dir=str(tmp_path)), registry=registry
    )
    assert result.status == "failed"
    first = result.tasks[0]
    assert first.status == "failed" and f"{hook} hook failed" in first.error
    assert "BrokenObserver" in first.error and "notification service down" in first.error
    assert result.tasks[1].status == "skipped"


def test_routine_started_raising_stops_the_run_before_any_task(tmp_path):
    from lakeroutine.errors import PluginError

    registry = probe_registry(broken_plugin("routine_started"))
    with pytest.raises(PluginError, match="routine_started hook failed"):
        run_routine(routine(block("a", ["ok"]), state_dir=str(tmp_path)), registry=registry)
    assert ProbeExecutor.calls == []


@pytest.mark.parametrize("hook", ["task_failed", "routine_finished"])
def test_late_hooks_that_raise_are_logged_and_the_run_goes_on(tmp_path, hook, caplog):
    registry = probe_registry(broken_plugin(hook))
    spec = routine(block("a", ["fail"]), block("b", ["ok"]), state_dir=str(tmp_path))
    with caplog.at_level(logging.ERROR, logger="lakeroutine"):
        result = run_routine(spec, registry=registry, keep_going=True)
    assert [t.status for t in result.tasks] == ["failed", "succeeded"]
    assert f"{hook} hook failed" in caplog.text
