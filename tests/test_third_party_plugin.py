"""The example third-party plugin (examples/plugin-hello) as a user meets it.

The slow tests pip-install the core and the example, each as its own distribution, into a
fresh virtualenv, then drive the ``lakeroutine`` command there: the plugin must be found
through its entry point, run in a routine, add a task to StagingExecutor and observe the run.
The fast test registers the same plugin module in code, as a plugin's own unit tests may.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from lakeroutine.orchestrator import run_routine
from lakeroutine.plugins import load_plugins

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "plugin-hello"
COPY_IGNORE = shutil.ignore_patterns(
    "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".lakeroutine"
)


class FreshVenv:
    """A virtualenv holding only what pip installed into it, and copies of the sources."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "venv" / "bin"
        self.example = root / "plugin-hello"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEROUTINE_")}
        for key in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
            env.pop(key, None)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env.update(extra or {})
        return env

    def run(
        self, *args: str | Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args],
            capture_output=True,
            text=True,
            env=self.env(env),
            cwd=cwd or self.root,
            timeout=300,
        )

    def lakeroutine(self, *args: str | Path, env: Mapping[str, str] | None = None) -> Any:
        return self.run(self.bin / "lakeroutine", *args, env=env)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    """Copies the core and the example out of the checkout (so builds leave nothing in it),
    creates an empty virtualenv and pip-installs both, plus pytest for the example's tests.

    The venv gets no pip of its own (this environment's pip installs into it with
    ``--python``) and one build backend shared by both builds: half the time of the defaults.
    """
    fresh = FreshVenv(tmp_path_factory.mktemp("fresh"))
    shutil.copytree(REPO / "core", fresh.root / "core", ignore=COPY_IGNORE)
    shutil.copytree(EXAMPLE, fresh.example, ignore=COPY_IGNORE)
    created = fresh.run(sys.executable, "-m", "venv", "--without-pip", fresh.root / "venv")
    assert created.returncode == 0, created.stderr
    pip = (sys.executable, "-m", "pip", "--python", fresh.bin / "python", "install", "--quiet")
    for step in (
        ("setuptools>=69", "pytest"),
        ("--no-build-isolation", fresh.root / "core", fresh.example),
    ):
        done = fresh.run(*pip, *step)
        assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"
    return fresh


def make_lake(root: Path) -> Path:
    lake = root / "lake"
    (lake / "landing" / "2026").mkdir(parents=True)
    (lake / "cards").mkdir()
    (lake / "landing" / "a.csv").write_text("name,amount\nada,1\n")
    (lake / "landing" / "2026" / "b.csv").write_text("name,amount\n")
    (lake / "landing" / "readme.txt").write_text("not a csv")
    return lake


@pytest.mark.slow
def test_installed_plugin_is_listed_with_its_distribution(venv: FreshVenv) -> None:
    listed = venv.lakeroutine("plugins", "--json")

    assert listed.returncode == 0, listed.stderr
    plugins = {item["name"]: item for item in json.loads(listed.stdout)}
    assert set(plugins) == {"lakeroutine.builtin", "hello"}  # nothing else leaked in
    hello = plugins["hello"]
    assert hello["distribution"] == "lakeroutine-hello"
    assert hello["version"] == "0.1.0"
    # where it came from (PEP 610's direct_url.json): a local folder, not an index
    assert hello["installed_from"] == {"kind": "local folder", "location": str(venv.example)}
    text = venv.lakeroutine("plugins").stdout
    assert f"hello (lakeroutine-hello 0.1.0, from local folder {venv.example})" in text
    assert hello["executors"] == {"HelloExecutor": ["ask", "greet"]}
    assert hello["tasks"] == ["StagingExecutor.count_landing"]
    assert hello["hooks"] == [
        "register_executors", "register_tasks", "routine_finished", "task_finished",
    ]  # fmt: skip


@pytest.mark.slow
def test_example_routine_runs_with_the_installed_plugin(venv: FreshVenv, tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    report, summary = tmp_path / "report.json", tmp_path / "summary.json"

    ran = venv.lakeroutine(
        "run", venv.example / "routine.json", "--var", f"lake={lake}", "--report", report,
        env={"LAKEROUTINE_HELLO_SUMMARY": str(summary)},
    )  # fmt: skip

    assert ran.returncode == 0, ran.stderr
    tasks = {f"{t['executor']}.{t['task']}": t for t in json.loads(report.read_text())["tasks"]}
    assert list(tasks) == [
        "StagingExecutor.count_landing", "StagingExecutor.transfer", "HelloExecutor.greet",
    ]  # fmt: skip
    counted = tasks["StagingExecutor.count_landing"]["output"]
    assert counted["files"] == 2
    assert counted["bytes"] == len("name,amount\nada,1\n") + len("name,amount\n")
    assert sorted(p.name for p in (lake / "staging").rglob("*") if p.is_file()) == [
        "a.csv", "b.csv", "readme.txt",
    ]  # fmt: skip
    assert (lake / "cards" / "World.txt").read_text() == "Hello, World!\n"
    # the lifecycle hooks saw the run: routine_finished wrote the summary, task_finished logged
    assert json.loads(summary.read_text())["tasks"] == [
        "StagingExecutor.count_landing: succeeded",
        "StagingExecutor.transfer: succeeded",
        "HelloExecutor.greet: succeeded",
    ]
    assert "hello: HelloExecutor.greet took" in ran.stderr


@pytest.mark.slow
def test_bad_args_for_the_plugin_are_a_validation_error(venv: FreshVenv, tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    routine = json.loads((venv.example / "routine.json").read_text())
    routine["executors"]["HelloExecutor"]["tasks"] = [{"task": "greet", "args": {"name": "../x"}}]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(routine))

    ran = venv.lakeroutine("run", path, "--var", f"lake={lake}")

    assert ran.returncode == 2
    assert "executor 'HelloExecutor', task 'greet', field 'args.name'" in ran.stderr
    assert not (lake / "staging").exists()  # nothing ran: the staging block came first


@pytest.mark.slow
def test_blocked_plugin_is_not_loaded(venv: FreshVenv) -> None:
    env = {"LAKEROUTINE_DISABLE_PLUGINS": "hello"}
    listed = venv.lakeroutine("plugins", "--json", env=env)
    checked = venv.lakeroutine("validate", venv.example / "routine.json", env=env)

    assert [item["name"] for item in json.loads(listed.stdout)] == ["lakeroutine.builtin"]
    assert checked.returncode == 2
    assert "unknown executor 'HelloExecutor'" in checked.stderr
    assert "count_landing" in checked.stderr


@pytest.mark.slow
def test_the_example_plugin_tests_pass_where_it_is_installed(venv: FreshVenv) -> None:
    tested = venv.run(venv.bin / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                      cwd=venv.example)  # fmt: skip

    assert tested.returncode == 0, tested.stdout + tested.stderr
    written = sum(p.read_text().count("\ndef test_") for p in (venv.example / "tests").glob("*.py"))
    assert f"\n{written} passed" in tested.stdout  # every one of them ran, none skipped


def test_the_example_plugin_registered_in_code(lake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    from lakeroutine_hello import plugin

    (lake.root / "cards").mkdir()
    lake.write("a.csv", "1\n")
    routine = json.loads((EXAMPLE / "routine.json").read_text())
    registry = load_plugins(entry_points=False, plugins=[plugin])  # the built-ins and hello

    result = run_routine(
        lake.routine_file(routine), registry=registry, vars={"lake": str(lake.root)}
    )

    assert result.status == "succeeded", [t.error for t in result.tasks]
    assert result.tasks[0].output["files"] == 1
    assert (lake.root / "cards" / "World.txt").read_text() == "Hello, World!\n"
