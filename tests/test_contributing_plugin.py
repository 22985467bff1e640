"""CONTRIBUTING.md's complete plugin, built from exactly the text of the docs (issue 9,
point 16): each ``File `path`:`` block is written to that path, then the plugin is
registered in code (fast) or pip-installed with its ``test`` extra into a fresh virtualenv,
where its own tests run (slow)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lakeroutine.orchestrator import run_routine
from lakeroutine.plugins import load_plugins
from test_third_party_plugin import COPY_IGNORE, REPO, FreshVenv

FILE_BLOCK = re.compile(r"^File `([^`]+)`[^\n]*:\n\n```\w*\n(.*?)^```$", re.MULTILINE | re.DOTALL)
FILES = {
    "pyproject.toml",
    "src/lakeroutine_shout/__init__.py",
    "src/lakeroutine_shout/plugin.py",
    "src/lakeroutine_shout/executor.py",
    "tests/conftest.py",
    "tests/test_shout.py",
}


def write_plugin_from_the_docs(root: Path) -> Path:
    """Write every file the docs give, exactly as written, under ``root``."""
    blocks = FILE_BLOCK.findall((REPO / "CONTRIBUTING.md").read_text())
    assert {path for path, _ in blocks} == FILES
    for relpath, text in blocks:
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def test_the_docs_plugin_is_clean_and_runs_registered_in_code(tmp_path, monkeypatch):
    plugin_root = write_plugin_from_the_docs(tmp_path / "shout")
    for check in (["check"], ["format", "--check"]):
        linted = subprocess.run(
            [sys.executable, "-m", "ruff", *check, "--config", str(REPO / "pyproject.toml"), "."],
            cwd=plugin_root,
            capture_output=True,
            text=True,
        )
        assert linted.returncode == 0, linted.stdout + linted.stderr
    monkeypatch.syspath_prepend(str(plugin_root / "src"))
    from lakeroutine_shout import plugin

    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("quiet\n")
    routine = {
        "routine_name": "shout",
        "executors": {"ShoutExecutor": {"params": {"folder": "texts"}, "tasks": ["shout"]}},
    }
    registry = load_plugins(entry_points=False, plugins=[plugin])
    result = run_routine(routine, registry=registry, base_dir=tmp_path)
    assert result.status == "succeeded", result.tasks[0].error
    assert (tmp_path / "texts" / "a.txt").read_text() == "QUIET!\n"


@pytest.mark.slow
def test_the_docs_plugin_installs_with_its_test_extra_and_its_tests_pass(tmp_path):
    fresh = FreshVenv(tmp_path)
    shutil.copytree(REPO / "core", tmp_path / "core", ignore=COPY_IGNORE)
    plugin_root = write_plugin_from_the_docs(tmp_path / "shout")
    created = fresh.run(sys.executable, "-m", "venv", "--without-pip", tmp_path / "venv")
    assert created.returncode == 0, created.stderr
    pip = (sys.executable, "-m", "pip", "--python", fresh.bin / "python", "install", "--quiet")
    for step, cwd in (
        (("setuptools>=77",), tmp_path),
        (("--no-build-isolation", tmp_path / "core"), tmp_path),
        (("--no-build-isolation", "-e", ".[test]"), plugin_root),  # as the docs say
    ):
        done = fresh.run(*pip, *step, cwd=cwd)
        assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"

    listed = fresh.lakeroutine("plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    shout = {item["name"]: item for item in json.loads(listed.stdout)}["shout"]
    assert shout["distribution"] == "lakeroutine-shout"
    assert shout["executors"] == {"ShoutExecutor": ["shout"]}

    tested = fresh.run(fresh.bin / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                       cwd=plugin_root)  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "\n3 passed" in tested.stdout
