"""What a plugin meets at run time, as CONTRIBUTING.md documents it (issue 9, points 17
and 18): task_failed's duration, the task context, dict routines' base folder, timeouts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from core_probe import probe_registry
from lakeroutine import hookimpl
from lakeroutine.orchestrator import run_routine


class Timings:
    """Records what the lifecycle hooks receive."""

    def __init__(self) -> None:
        self.failed: list[tuple[int, float, bool]] = []
        self.contexts: list[Any] = []

    @hookimpl
    def task_started(self, ctx: Any) -> None:
        self.contexts.append(ctx)

    @hookimpl
    def task_failed(self, ctx: Any, error: BaseException, will_retry: bool, duration_s: float):
        self.failed.append((ctx.attempt, duration_s, will_retry))


def probe(tasks: list[Any], **params: Any) -> dict[str, Any]:
    return {
        "routine_name": "runtime",
        "executors": {"blue": {"executor": "ProbeExecutor", "params": params, "tasks": tasks}},
    }


def test_task_failed_gets_each_attempts_duration_and_ctx_its_facts():
    timings = Timings()
    before = dt.datetime.now(dt.timezone.utc)
    result = run_routine(
        probe([{"task": "wait", "timeout_s": 0.05, "retries": 1}]),
        registry=probe_registry(timings),
    )
    assert result.status == "failed"
    assert result.tasks[0].error == "blue.wait did not finish within 0.05 s"
    assert [(a, r) for a, _d, r in timings.failed] == [(1, True), (2, False)]
    for _attempt, duration, _retry in timings.failed:
        assert 0.05 <= duration < 5
    first, second = timings.contexts
    assert (first.executor, first.task, first.attempt, second.attempt) == ("blue", "wait", 1, 2)
    assert before <= first.started_at <= second.started_at
    assert first.run.run_id == result.run_id and first.run.redactor("x") == "x"
    assert sum(d for _a, d, _r in timings.failed) <= result.tasks[0].duration_s + 0.01


def test_a_dict_routine_resolves_paths_against_base_dir(tmp_path, monkeypatch):
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "a.csv").write_text("1")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    routine = {
        "routine_name": "based",
        "executors": {
            "StagingExecutor": {
                "params": {"parent_directory": "landing", "dump_directory": "staging"},
                "tasks": ["transfer"],
            }
        },
    }
    result = run_routine(routine, registry=probe_registry(), base_dir=tmp_path)
    assert result.status == "succeeded", result.tasks[0].error
    assert (tmp_path / "staging" / "a.csv").read_text() == "1"
    assert not (elsewhere / "staging").exists()


def test_every_fixture_and_helper_of_lakeroutine_testing_is_documented():
    import inspect
    import re
    from pathlib import Path

    from lakeroutine import testing

    contributing = (Path(__file__).resolve().parents[1] / "CONTRIBUTING.md").read_text()
    fixtures = sorted(
        name
        for name, value in vars(testing).items()
        if not name.startswith("_")
        and (
            type(value).__name__ == "FixtureFunctionDefinition"  # pytest 8.4 and later
            or hasattr(value, "_pytestfixturefunction")  # earlier
        )
    )
    assert {"run", "lake", "moto_endpoint"} <= set(fixtures)
    words = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}
    assert f"It gives {words[len(fixtures)]} fixtures:" in contributing
    for name in fixtures:
        assert re.search(rf"^- `{name}`:", contributing, re.M), name
    helpers = [
        name
        for name, value in vars(testing).items()
        if inspect.isfunction(value)
        and not name.startswith("_")
        and name not in fixtures
        and value.__module__ == testing.__name__
    ]
    for name in helpers:
        assert f"`{name}" in contributing, name
