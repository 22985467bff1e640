"""What `lakeroutine --help`, `lakeroutine validate` and a scheduler's parse answered by the
parse cache may import and build (start-up cost).

Each command runs in a fresh interpreter with every installed plugin, then reports what it
imported, which of the task argument models it built and how many entry-point scans were
made; the boundaries, not timings, are asserted (benchmarks/startup.py times them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

QUICKSTART = Path(__file__).resolve().parent.parent / "examples" / "quickstart"

PROBE = r"""
import sys
scans = []
if sys.argv[1] == "count":  # stdlib's entry_points, counted: each full scan of the metadata
    import importlib.metadata
    _entry_points = importlib.metadata.entry_points
    def counted(**selection):
        scans.append(selection)
        return _entry_points(**selection)
    importlib.metadata.entry_points = counted
from lakeroutine.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
modules = sorted(sys.modules)  # before the probe imports anything of its own
built = {}
if "lakeroutine_duckdb.models" in sys.modules:
    models = sys.modules["lakeroutine_duckdb.models"]
    built = {name: getattr(models, name).__pydantic_complete__ for name in (
        "DuckDBParams", "CreateTableArgs", "RunQueryArgs", "CtasArgs", "AddPartitionsArgs",
        "CreateDatabaseArgs")}
import json
print(json.dumps({"code": code, "modules": modules, "scans": scans, "built": built}))
"""

HEAVY = ("boto3", "botocore", "pyarrow", "duckdb", "pandas", "azure", "google", "asyncssh")


def probe(argv: list[str], cwd: Path, count_scans: bool = False) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEROUTINE_")}
    mode = "count" if count_scans else "plain"
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def roots(modules: list[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    """The quickstart's routine with its files landed, in a folder of its own."""
    for name in ("routine.json", "land_files.py"):
        shutil.copy(QUICKSTART / name, tmp_path / name)
    subprocess.run([sys.executable, "land_files.py"], cwd=tmp_path, check=True, capture_output=True)
    return tmp_path


def test_help_imports_argparse_and_the_package_only(tmp_path: Path) -> None:
    """--help loads no plugin, model, logging set-up or metadata: only the parser."""
    found = probe(["--help"], tmp_path)
    assert found["code"] == 0
    modules = set(found["modules"])
    ours = {name for name in modules if name.startswith("lakeroutine")}
    assert ours == {"lakeroutine", "lakeroutine.cli"}
    unused = ("pydantic", "pluggy", "importlib.metadata", "logging", "json", "pathlib", "shutil")
    for name in unused:
        assert name not in modules, f"--help imported {name}"
    assert not roots(found["modules"]) & set(HEAVY)


def test_help_adds_no_subcommands_arguments_and_shows_what_the_full_parser_shows(capsys):
    """main's parser adds a subcommand's arguments only when that subcommand is parsed or
    its help shown: ``--help`` builds none, and every help reads as the full parser's."""
    import argparse

    from lakeroutine.cli import build_parser

    for argv in (["--help"], ["run", "--help"], ["state", "clear", "--help"]):
        shown = []
        for lazy in (True, False):
            parser = build_parser(lazy=lazy)
            with pytest.raises(SystemExit):
                parser.parse_args(argv)
            shown.append(capsys.readouterr().out)
            if lazy and argv == ["--help"]:
                (commands,) = (
                    a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
                )
                unfilled = {name for name, sub in commands.choices.items() if sub._fill}
                assert unfilled == {"run", "validate", "state", "plugins", "init"}
        assert shown[0] == shown[1] and "usage: lakeroutine" in shown[0]


def test_validate_imports_and_builds_only_what_the_routine_uses(quickstart: Path) -> None:
    """validate of the quickstart (StagingExecutor and DuckDBExecutor) imports those two
    executors and no other, builds the models of the tasks the routine names and not the
    rest, makes no full entry-point scan, and imports no service or data library."""
    found = probe(["validate", "routine.json"], quickstart, count_scans=True)
    assert found["code"] == 0
    modules = set(found["modules"])
    assert {"lakeroutine.staging.executor", "lakeroutine_duckdb.executor"} <= modules
    for unused in ("athena", "glue", "redshift"):
        assert f"lakeroutine_{unused}.executor" not in modules
    for name in ("lakeroutine.outputs", "lakeroutine.state.clear", "lakeroutine.state.report"):
        assert name not in modules, f"validate imported {name}"
    # tasks the routine does not name: the check task's and the Iceberg tasks' models
    for name in ("lakeroutine.sql.checks", "lakeroutine.sql.iceberg_tasks"):
        assert name not in modules, f"validate imported {name}"
    assert found["built"] == {
        "DuckDBParams": True,
        "CreateTableArgs": True,
        "RunQueryArgs": True,
        "CtasArgs": False,
        "AddPartitionsArgs": False,
        "CreateDatabaseArgs": False,
    }
    # ours reads only the distributions that can declare lakeroutine's group (no full
    # scan of importlib.metadata's); pydantic is told it found no plugin of its own
    assert found["scans"] == [], found["scans"]
    assert not roots(found["modules"]) & set(HEAVY)
    # validate validates: the parse cache is neither read nor written
    assert not {"lakeroutine.parse_steps", "lakeroutine.parse_cache"} & modules


PARSE = r"""
import json, sys
before = set(sys.modules)
from lakeroutine.parse_steps import parse_steps
name, steps = parse_steps(sys.argv[1])
print(json.dumps({"steps": len(steps), "modules": sorted(set(sys.modules) - before)}))
"""


def test_a_warm_parse_imports_no_model_plugin_or_pydantic(quickstart: Path) -> None:
    """A scheduler's parse of an input the parse cache knows valid reads the steps from the
    file: no pydantic, no model or executor module of ours, no plugin loading, no metadata
    scan. The first parse (cold) validated the routine and filled the cache."""
    env = {**os.environ, "LAKEROUTINE_PARSE_CACHE": str(quickstart / "cache")}
    found = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", PARSE, "routine.json"],
            capture_output=True,
            text=True,
            env=env,
            cwd=quickstart,
        )
        assert out.returncode == 0, out.stderr
        found.append(json.loads(out.stdout.strip().splitlines()[-1]))
    cold, warm = (set(run["modules"]) for run in found)
    assert {"pydantic", "lakeroutine.routine", "lakeroutine_duckdb.models"} <= cold
    assert found[0]["steps"] == found[1]["steps"] > 0
    ours = {name for name in warm if name.startswith("lakeroutine")}
    assert ours <= {
        "lakeroutine",
        "lakeroutine.errors",
        "lakeroutine.parse_cache",
        "lakeroutine.parse_steps",
        "lakeroutine.step_ids",
        "lakeroutine.steps",
        "lakeroutine.validation_inputs",
    }, ours
    for name in ("pydantic", "pluggy", "importlib.metadata", "logging"):
        assert name not in warm, f"a warm parse imported {name}"
    assert not roots(sorted(warm)) & set(HEAVY)
