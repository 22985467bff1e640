"""Tests of the hello plugin, run the way a plugin author runs them: installed, with
lakeroutine's fixtures (``run`` loads the installed plugins, ``lake`` is a temporary folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lakeroutine.errors import RoutineError


def hello_routine(folder: Path, *tasks: Any, greeting: str = "Hello") -> dict[str, Any]:
    return {
        "routine_name": "hello_test",
        "executors": {
            "HelloExecutor": {
                "params": {"greeting": greeting, "folder": str(folder)},
                "tasks": list(tasks),
            }
        },
    }


def test_greet_writes_a_card(run, lake):
    routine = hello_routine(lake.root, {"task": "greet", "args": {"name": "Ada"}}, greeting="Hi")

    result = run(lake.routine_file(routine))

    assert result.status == "succeeded"
    assert (lake.root / "Ada.txt").read_text() == "Hi, Ada!\n"
    assert result.tasks[0].output == {"card": str(lake.root / "Ada.txt"), "text": "Hi, Ada!"}


def test_a_name_that_is_not_a_file_name_is_refused_before_anything_runs(run, lake):
    routine = hello_routine(lake.root, {"task": "greet", "args": {"name": "../escape"}})

    with pytest.raises(RoutineError) as caught:
        run(lake.routine_file(routine))

    assert caught.value.field == "args.name"
    assert "only letters, digits" in str(caught.value)
    assert not list(lake.root.parent.glob("escape*"))
    assert not list(lake.root.glob("*.txt"))


def test_a_missing_folder_stops_the_routine_in_preflight(run, lake):
    routine = hello_routine(lake.root / "nowhere", {"task": "greet", "args": {"name": "Ada"}})

    with pytest.raises(RoutineError) as caught:
        run(lake.routine_file(routine))

    assert caught.value.field == "params.folder"
    assert "does not exist" in str(caught.value)


def test_ask_waits_for_the_same_question_when_run_again(run, lake):
    ask = {
        "task": "ask",
        "args": {"question": "ready?", "max_wait_s": 0.03, "poll_interval_s": 0.01},
    }
    path = lake.routine_file(hello_routine(lake.root, ask))

    first = run(path)
    assert first.status == "failed"
    assert "no answer to question" in first.tasks[0].error
    [question] = lake.root.glob("*.question")
    assert question.read_text() == "ready?\n"

    question.with_suffix(".answer").write_text("yes\n")
    second = run(path)

    assert second.status == "succeeded"
    assert second.tasks[0].output == {"request_id": question.stem, "answer": "yes"}
    assert len(list(lake.root.glob("*.question"))) == 1  # not asked twice


def test_a_question_lost_before_it_was_left_is_asked_again_under_its_id(run, lake):
    ask = {
        "task": "ask",
        "args": {"question": "ready?", "max_wait_s": 0.01, "poll_interval_s": 0.01},
    }
    path = lake.routine_file(hello_routine(lake.root, ask))
    run(path)
    [question] = lake.root.glob("*.question")
    question.unlink()  # as if the run died between saving the id and leaving the question

    assert run(path).status == "failed"

    assert [p.name for p in lake.root.glob("*.question")] == [question.name]


def test_a_timed_out_question_is_withdrawn(run, lake):
    ask = {
        "task": "ask",
        "args": {"question": "anyone?", "max_wait_s": 30, "poll_interval_s": 0.01},
        "timeout_s": 0.1,
    }

    result = run(lake.routine_file(hello_routine(lake.root, ask)))

    assert result.status == "failed"
    assert "did not finish within" in result.tasks[0].error
    [question] = lake.root.glob("*.question")
    assert question.with_suffix(".cancelled").read_text() == "cancelled\n"


def test_count_landing_is_added_to_the_staging_executor(run, lake):
    lake.write("a.csv", "x,y\n1,2\n")
    lake.write("2026/b.csv", "x\n")
    lake.write("notes.txt", "not counted")
    routine = {
        "routine_name": "count",
        "executors": {
            "StagingExecutor": {
                "params": {"parent_directory": "landing/", "dump_directory": "staging/"},
                "tasks": [{"task": "count_landing", "args": {"pattern": "*.csv"}}],
            }
        },
    }

    result = run(lake.routine_file(routine))

    assert result.status == "succeeded"
    assert result.tasks[0].output["files"] == 2
    assert result.tasks[0].output["bytes"] == len("x,y\n1,2\n") + len("x\n")
    assert lake.files(lake.landing).keys() == {"a.csv", "2026/b.csv", "notes.txt"}


def test_each_run_writes_a_summary_when_asked(run, lake, monkeypatch):
    summary = lake.root / "summary.json"
    monkeypatch.setenv("LAKEROUTINE_HELLO_SUMMARY", str(summary))
    routine = hello_routine(
        lake.root,
        {"task": "greet", "args": {"name": "Ada"}},
        {"task": "ask", "args": {"question": "?", "max_wait_s": 0.01, "poll_interval_s": 0.01}},
    )

    result = run(lake.routine_file(routine))

    written = json.loads(summary.read_text())
    assert written == {
        "routine": "hello_test",
        "run_id": result.run_id,
        "status": "failed",
        "tasks": ["HelloExecutor.greet: succeeded", "HelloExecutor.ask: failed"],
    }
