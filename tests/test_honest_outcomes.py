"""Honest outcomes and CLI conventions (issue 18): a refused run says refused everywhere,
options work where the README says, numbers agree with their nouns, and ``state`` speaks
the user's terms. Each runs the command line as a user does."""

from __future__ import annotations

import argparse
import json
import logging

import pytest
from lakeroutine import run_routine
from lakeroutine.cli import build_parser, main
from lakeroutine.errors import RoutineError
from lakeroutine.state.base import RUN_SCOPE


@pytest.fixture(autouse=True)
def core_only(monkeypatch):
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "")


def staging(lake, tasks=("transfer", "post_staging")):
    return lake.routine_file(
        {
            "routine_name": "honest",
            "executors": {
                "StagingExecutor": {
                    "params": {"parent_directory": "landing", "dump_directory": "staging"},
                    "tasks": list(tasks),
                }
            },
        }
    )


def _last_run(capsys, path):
    capsys.readouterr()
    assert main(["state", "show", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)["last_run"]


# -- point 1: a refused run is reported as refused ----------------------------------------


def test_a_run_refused_by_a_preflight_check_never_says_succeeded(lake, capsys):
    path = staging(lake)
    lake.landing.rmdir()  # valid routine; the preflight check finds no landing folder
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "succeeded" not in err
    assert "routine honest refused before its first task: nothing ran" in err
    assert err.splitlines()[-1].startswith(f"lakeroutine: error: {path}, executor ")
    assert "does not exist" in err.splitlines()[-1]
    assert _last_run(capsys, path)["status"] == "refused"
    assert main(["state", "show", str(path)]) == 0
    assert " refused (started " in capsys.readouterr().out


def test_run_routine_raises_and_records_refused(lake, caplog):
    path = staging(lake)
    lake.landing.rmdir()
    caplog.set_level(logging.INFO, logger="lakeroutine")
    with pytest.raises(RoutineError, match="does not exist"):
        run_routine(path)
    lines = [r.getMessage() for r in caplog.records]
    assert "routine honest refused before its first task: nothing ran" in lines
    assert not any("succeeded" in line or "started" in line for line in lines)
    from lakeroutine.state.sqlite import open_local

    store = open_local(str(lake.root / ".lakeroutine" / "state"), routine="honest")
    try:
        assert store.get_values(RUN_SCOPE)["last"]["status"] == "refused"
    finally:
        store.close()


# -- point 6: CLI conventions --------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["validate", "{path}"],
        ["run", "{path}", "--no-outputs"],
        ["state", "show", "{path}"],
        ["state", "clear", "{path}"],
        ["plugins"],
        ["schema"],
    ],
)
@pytest.mark.parametrize("flag", ["-q", "--debug"])
@pytest.mark.parametrize("where", ["before", "after"])
def test_q_and_debug_go_before_or_after_every_command(lake, capsys, command, flag, where):
    lake.write("a.csv", "1")
    argv = [part.format(path=staging(lake)) for part in command]
    argv = [flag, *argv] if where == "before" else [*argv, flag]
    assert main(argv) == 0, capsys.readouterr().err
    if flag == "-q":
        assert " INFO " not in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [["validate"], ["run"], ["state", "show"], ["state", "clear"]],
)
@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_takes_effect_before_or_after_the_command(lake, capsys, command, where):
    path = lake.routine_file({"routine_name": "x", "executors": {"Nope": {}}})
    argv = [*command, str(path)]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    assert main(argv) == 2
    assert "Traceback" in capsys.readouterr().err


def _parsers(parser: argparse.ArgumentParser, name: str = "lakeroutine"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_option_of_every_help_has_a_one_line_description():
    seen = []
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help and "\n" not in choice.help, f"{name} {choice.dest}"
                continue
            label = f"{name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help and action.help != argparse.SUPPRESS, f"{label}: no help"
            assert "\n" not in action.help, f"{label}: more than one line"
            seen.append(label)
    assert "lakeroutine state clear --var" in seen and "lakeroutine state show routine" in seen


def test_numbers_agree_with_their_nouns(lake, capsys):
    lake.write("a.csv", "1")
    path = staging(lake, tasks=["transfer"])
    assert main(["validate", str(path)]) == 0
    assert "valid (1 executor, 1 task)" in capsys.readouterr().out
    assert main(["run", str(path)]) == 0
    err = capsys.readouterr().err
    assert "StagingExecutor: staged 1 file (0 already staged" in err
    assert "1 task: 1 succeeded in " in err
    assert main(["run", str(staging(lake))]) == 0
    assert "StagingExecutor: archived 1 landing file\n" in capsys.readouterr().err


def test_state_show_hides_digests_and_clear_says_what_it_forgot(lake, capsys):
    for n in range(12):
        lake.write(f"f{n}.csv", str(n))
    path = staging(lake, tasks=["transfer"])
    assert main(["run", "-q", str(path)]) == 0
    capsys.readouterr()
    assert main(["state", "show", str(path), "--json"]) == 0
    scopes = [j["scope"] for j in json.loads(capsys.readouterr().out)["journals"]]
    assert main(["state", "show", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "landing files in the staging journal of StagingExecutor: 12 staged" in shown
    assert len(scopes) == 2
    for scope in scopes:  # the digests that key the journals stay in --json
        assert scope.split(":")[-1] not in shown

    assert main(["state", "clear", str(path), "--task", "StagingExecutor.transfer"]) == 0
    assert capsys.readouterr().out == (
        "nothing to forget: task StagingExecutor.transfer had no saved values in "
        f"{lake.root / '.lakeroutine' / 'state' / 'honest.sqlite'}\n"
    )
    assert main(["state", "clear", str(path)]) == 0
    said = capsys.readouterr().out
    assert said.startswith("forgot routine honest's state in ")
    assert "the last run (" in said and ", succeeded)" in said
    assert "12 landing files in the staging journal of StagingExecutor" in said
    assert "item(s)" not in said
    assert main(["state", "clear", str(path)]) == 0
    assert capsys.readouterr().out.startswith("nothing to forget: no state of routine honest")


# -- point 4: install hints give the form that works from a clone --------------------------


def test_install_hints_name_the_clone_path_and_the_index_name_beside_it(lake, capsys):
    path = lake.routine_file(
        {
            "routine_name": "x",
            "executors": {
                "StagingExecutor": {
                    "params": {"parent_directory": "sftp://me@host/in", "dump_directory": "out"}
                },
                "other": {
                    "executor": "StagingExecutor",
                    "params": {"parent_directory": "zz://b/in", "dump_directory": "out2"},
                },
            },
        }
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert (
        "install it with: pip install ./plugins/sftp (from a clone of the lakeroutine "
        "repository; 'lakeroutine-sftp' on PyPI once published)"
    ) in err
    assert "no storage plugin serves zz:// URLs (installed: file)" in err  # no hint to give
    assert err.count("install it with") == 1
