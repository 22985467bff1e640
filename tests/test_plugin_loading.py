"""Loading plugins from installed distributions: clashes, broken plugins, user control.

Each test installs tiny distributions into a temporary folder the way pip lays them out
(a package plus a ``*.dist-info`` folder whose ``entry_points.txt`` names the plugin), and
puts that folder on ``sys.path`` (in this process) or ``PYTHONPATH`` (for the CLI), where
``importlib.metadata`` finds them like any installed package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from lakeroutine.errors import PluginError, RoutineError
from lakeroutine.orchestrator import run_routine
from lakeroutine.plugins import load_plugins

EXECUTOR_PLUGIN = """
from lakeroutine import hookimpl
from lakeroutine.executor import Executor, task


class {cls}(Executor):
    name = "{executor}"

    @task
    def ping(self):
        return {{"pong": "{distribution}"}}


@hookimpl
def register_executors(register):
    register({cls})
"""


class SitePackages:
    """A folder of installed distributions, each with a unique module name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(exist_ok=True)

    def install(self, distribution: str, plugin: str, source: str, version: str = "1.0") -> str:
        """Install ``source`` as a module of ``distribution`` with a ``lakeroutine`` entry
        point named ``plugin``; returns the module name."""
        module = f"lr_test_{distribution.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        self.entry_point(distribution, plugin, module, version)
        return module

    def entry_point(self, distribution: str, plugin: str, target: str, version: str) -> None:
        info = self.root / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
        )
        (info / "entry_points.txt").write_text(f"[lakeroutine]\n{plugin} = {target}\n")

    def executor_plugin(self, distribution: str, plugin: str, executor: str) -> str:
        """Install a plugin registering an executor class named ``executor`` with a task
        ``ping`` that answers with the distribution's name."""
        source = EXECUTOR_PLUGIN.format(cls=executor, executor=executor, distribution=distribution)
        return self.install(distribution, plugin, source)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SitePackages:
    packages = SitePackages(tmp_path / "site-packages")
    monkeypatch.syspath_prepend(str(packages.root))
    return packages


def only(*names: str, **more: str) -> dict[str, str]:
    """An environment that allows just these plugins (so other installed ones stay out)."""
    return {"LAKEROUTINE_PLUGINS": ",".join(names), **more}


def cli(site: SitePackages, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``lakeroutine`` in a subprocess that sees the folder's distributions."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEROUTINE_")}
    full_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(site.root), full_env.get("PYTHONPATH")])
    )
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "lakeroutine.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def test_an_installed_plugin_is_loaded_with_its_distribution(site: SitePackages) -> None:
    site.executor_plugin("lr-good", "good", "GoodExecutor")

    registry = load_plugins(env=only("good"))

    assert registry.executors["GoodExecutor"].plugin.distribution == "lr-good"
    assert registry.plugins["good"].version == "1.0"
    assert registry.plugins["good"].hooks == ("register_executors",)


def test_two_distributions_claiming_one_plugin_name(site: SitePackages) -> None:
    site.executor_plugin("lr-first", "dup", "FirstExecutor")
    site.executor_plugin("lr-second", "dup", "SecondExecutor")

    with pytest.raises(PluginError) as caught:
        load_plugins(env=only("dup"))

    message = str(caught.value)
    assert "plugin 'dup'" in message
    assert "already taken" in message
    assert "lr-first 1.0" in message and "lr-second 1.0" in message


CLAIMS = {
    "executor": (
        """
        from lakeroutine.executor import Executor

        class TwinExecutor(Executor):
            pass

        @hookimpl
        def register_executors(register):
            register(TwinExecutor)
        """,
        "executor 'TwinExecutor', already registered by",
    ),
    "task": (
        """
        @hookimpl
        def register_tasks(register):
            register("StagingExecutor", "twin_task", lambda executor: {})
        """,
        "adds task StagingExecutor.twin_task, already defined by",
    ),
    "storage": (
        """
        @hookimpl
        def register_storages(register):
            register("twin", lambda **options: None)
        """,
        "registers storage twin://, already registered by",
    ),
}


@pytest.mark.parametrize("kind", CLAIMS)
def test_two_plugins_claiming_one_name(site: SitePackages, kind: str) -> None:
    body, expected = CLAIMS[kind]
    for name in ("one", "two"):
        site.install(
            f"lr-{name}", name, "from lakeroutine import hookimpl\n" + textwrap.dedent(body)
        )

    with pytest.raises(PluginError) as caught:
        load_plugins(env=only("one", "two"))

    message = str(caught.value)
    assert expected in message
    assert "plugin 'one' (distribution lr-one" in message
    assert "plugin 'two' (distribution lr-two 1.0)" in message


def test_a_plugin_may_not_take_the_name_of_a_builtin_executor(site: SitePackages) -> None:
    site.executor_plugin("lr-usurper", "usurper", "StagingExecutor")

    with pytest.raises(PluginError) as caught:
        load_plugins(env=only("usurper"))

    assert "plugin 'usurper' (distribution lr-usurper 1.0) registers executor" in str(caught.value)
    assert "distribution lakeroutine" in str(caught.value)


def test_a_plugin_that_fails_to_import(site: SitePackages) -> None:
    module = site.install("lr-broken", "broken", "import lr_no_such_module_anywhere\n", "0.3")

    with pytest.raises(PluginError) as caught:
        load_plugins(env=only("broken"))

    assert str(caught.value) == (
        f"plugin 'broken' (distribution lr-broken 0.3) failed to import {module!r}: "
        "ModuleNotFoundError: No module named 'lr_no_such_module_anywhere'"
    )


def test_a_plugin_that_raises_while_importing(site: SitePackages) -> None:
    site.install("lr-raises", "raises", "raise RuntimeError('no config file found')\n")

    with pytest.raises(PluginError) as caught:
        load_plugins(env=only("raises"))

    message = str(caught.value)
    assert message.startswith("plugin 'raises' (distribution lr-raises 1.0) failed to import")
    assert message.endswith("RuntimeError: no config file found")


def test_an_entry_point_naming_a_missing_module(site: SitePackages) -> None:
    site.entry_point("lr-typo", "typo", "lr_typo_plugn", "2.0")

    with pytest.raises(PluginError) as caught:
        load_plugins(env=only("typo"))

    assert "plugin 'typo' (distribution lr-typo 2.0) failed to import 'lr_typo_plugn'" in str(
        caught.value
    )


BAD_HOOK_MODULES = {
    "an argument the spec does not have": (
        """
        @hookimpl
        def register_executors(register, registry):
            pass
        """,
        ["register_executors", "'registry'"],
    ),
    "a misspelt hook name": (
        """
        @hookimpl
        def register_executor(register):
            pass
        """,
        ["unknown hook 'register_executor'", "is the hook name misspelt?"],
    ),
    "a class that is not an executor": (
        """
        class Lookalike:
            name = "Lookalike"

        @hookimpl
        def register_executors(register):
            register(Lookalike)
        """,
        ["registered <class", "which is not an Executor subclass"],
    ),
    "a registration hook that raises": (
        """
        @hookimpl
        def register_executors(register):
            from lr_lazy_missing_executor_module import LazyExecutor
            register(LazyExecutor)
        """,
        [
            "register_executors failed: ModuleNotFoundError: "
            "No module named 'lr_lazy_missing_executor_module'"
        ],
    ),
    "a register callback called without its function": (
        """
        @hookimpl
        def register_tasks(register):
            register("StagingExecutor", "count")
        """,
        ["register_tasks failed: TypeError:"],
    ),
}


@pytest.mark.parametrize("case", BAD_HOOK_MODULES)
def test_a_bad_hook_is_an_error_naming_the_plugin_and_distribution(
    site: SitePackages, case: str
) -> None:
    body, expected = BAD_HOOK_MODULES[case]
    site.install("lr-bad", "bad", "from lakeroutine import hookimpl\n" + textwrap.dedent(body))

    with pytest.raises(PluginError) as caught:
        load_plugins(env=only("bad"))

    message = str(caught.value)
    assert message.startswith("plugin 'bad' (distribution lr-bad 1.0)")
    for fragment in expected:
        assert fragment in message


def test_a_task_the_executor_already_has_is_refused_when_the_executor_is_used(
    site: SitePackages,
) -> None:
    """An executor registered by its path is not imported to load plugins: the clash is
    found, with the same message, when the executor's tasks are first looked up."""
    site.install(
        "lr-bad",
        "bad",
        "from lakeroutine import hookimpl\n"
        "@hookimpl\n"
        "def register_tasks(register):\n"
        "    register('StagingExecutor', 'transfer', lambda executor: {})\n",
    )
    registry = load_plugins(env=only("bad"))
    with pytest.raises(PluginError) as caught:
        registry.tasks_of("StagingExecutor")
    message = str(caught.value)
    assert message.startswith("plugin 'bad' (distribution lr-bad 1.0)")
    assert "adds task StagingExecutor.transfer, already defined by the executor itself" in message


TYPING_ONLY_CONTEXT = """
from __future__ import annotations

from typing import TYPE_CHECKING

from lakeroutine import hookimpl
from lakeroutine.executor import Executor, Params, task

if TYPE_CHECKING:
    from lakeroutine.context import TaskContext


class EchoArgs(Params):
    message: str


class EchoExecutor(Executor):
    @task
    def echo(self, args: {args_type}, ctx: TaskContext) -> dict:
        return {{"echo": args.message, "task": ctx.task}}


@hookimpl
def register_executors(register):
    register(EchoExecutor)
"""


def test_a_task_keeps_its_args_model_when_other_hints_are_for_type_checkers_only(
    site: SitePackages,
) -> None:
    site.install("lr-echo", "echo", TYPING_ONLY_CONTEXT.format(args_type="EchoArgs"))
    registry = load_plugins(env=only("echo"))
    echo = {"task": "echo", "args": {"message": "hi"}}
    routine = {"routine_name": "e", "executors": {"EchoExecutor": {"tasks": [echo]}}}

    result = run_routine(routine, registry=registry)
    echo["args"] = {"mesage": "typo"}
    with pytest.raises(RoutineError) as caught:
        run_routine(routine, registry=registry)

    assert result.tasks[0].output == {"echo": "hi", "task": "echo"}
    assert {(p.field, p.message) for p in caught.value.problems} == {
        ("args.message", "Field required"),
        ("args", "unknown field 'mesage' (did you mean 'message'?)"),
    }


def test_an_args_annotation_that_names_nothing_is_an_error_naming_the_plugin(
    site: SitePackages,
) -> None:
    site.install("lr-echo", "echo", TYPING_ONLY_CONTEXT.format(args_type="EchoArgz"))

    with pytest.raises(PluginError) as caught:
        load_plugins(env=only("echo"))

    message = str(caught.value)
    assert message.startswith("plugin 'echo' (distribution lr-echo 1.0) failed to import")
    assert "task 'echo': cannot resolve the annotation of 'args' ('EchoArgz'" in message


def test_the_allow_list_loads_only_the_named_plugins(site: SitePackages) -> None:
    site.executor_plugin("lr-alpha", "alpha", "AlphaExecutor")
    site.executor_plugin("lr-beta", "beta", "BetaExecutor")

    registry = load_plugins(env=only("alpha"))

    assert set(registry.plugins) == {"lakeroutine.builtin", "alpha"}
    assert set(registry.executors) == {"StagingExecutor", "AlphaExecutor"}


def test_an_empty_allow_list_loads_no_installed_plugin(site: SitePackages) -> None:
    site.executor_plugin("lr-alpha", "alpha", "AlphaExecutor")

    registry = load_plugins(env={"LAKEROUTINE_PLUGINS": ""})

    assert set(registry.plugins) == {"lakeroutine.builtin"}


def test_the_block_list_wins_over_the_allow_list(site: SitePackages) -> None:
    site.executor_plugin("lr-alpha", "alpha", "AlphaExecutor")
    site.install("lr-broken", "broken", "raise ImportError('broken on purpose')\n")

    registry = load_plugins(env=only("alpha", "broken", LAKEROUTINE_DISABLE_PLUGINS="broken"))

    assert set(registry.plugins) == {"lakeroutine.builtin", "alpha"}


def test_the_cli_names_a_broken_plugin_and_the_block_list_lets_the_user_go_on(
    site: SitePackages,
) -> None:
    site.executor_plugin("lr-fine", "fine", "FineExecutor")
    site.install("lr-broken", "broken", "raise ImportError('broken on purpose')\n", "0.9")
    allowed = {"LAKEROUTINE_PLUGINS": "fine,broken"}  # keep other installed plugins out

    failing = cli(site, "plugins", "--json", **allowed)
    blocked = cli(site, "plugins", "--json", **allowed, LAKEROUTINE_DISABLE_PLUGINS="broken, x")

    assert failing.returncode == 2
    assert "plugin 'broken' (distribution lr-broken 0.9) failed to import" in failing.stderr
    assert "ImportError: broken on purpose" in failing.stderr
    assert "Traceback" not in failing.stderr
    assert blocked.returncode == 0, blocked.stderr
    listed = {item["name"]: item for item in json.loads(blocked.stdout)}
    assert set(listed) == {"lakeroutine.builtin", "fine"}
    assert listed["fine"]["executors"] == {"FineExecutor": ["ping"]}


def test_tracing_logs_every_hook_call(
    site: SitePackages, capsys: pytest.CaptureFixture[str]
) -> None:
    site.executor_plugin("lr-traced", "traced", "TracedExecutor")
    routine = {"routine_name": "t", "executors": {"TracedExecutor": {"tasks": ["ping"]}}}

    registry = load_plugins(env=only("traced", LAKEROUTINE_TRACE_HOOKS="1"))
    result = run_routine(routine, registry=registry)

    assert result.tasks[0].output == {"pong": "lr-traced"}
    trace = capsys.readouterr().err
    for hook in ("register_executors", "routine_started", "task_started", "task_finished"):
        assert f"{hook} [hook]" in trace
    assert "finish routine_finished" in trace
    assert "register_executors [hook]\n    plugin: traced\n" in trace


def test_tracing_is_off_unless_asked(
    site: SitePackages, capsys: pytest.CaptureFixture[str]
) -> None:
    site.executor_plugin("lr-quiet", "quiet", "QuietExecutor")
    routine = {"routine_name": "t", "executors": {"QuietExecutor": {"tasks": ["ping"]}}}

    for value in ("0", "false", ""):
        registry = load_plugins(env=only("quiet", LAKEROUTINE_TRACE_HOOKS=value))
        assert run_routine(routine, registry=registry).status == "succeeded"

    assert "[hook]" not in capsys.readouterr().err


def test_the_cli_traces_hook_calls(site: SitePackages) -> None:
    site.executor_plugin("lr-traced", "traced", "TracedExecutor")

    traced = cli(site, "plugins", LAKEROUTINE_PLUGINS="traced", LAKEROUTINE_TRACE_HOOKS="1")

    assert traced.returncode == 0, traced.stderr
    assert "register_executors [hook]\n    plugin: traced\n" in traced.stderr
    assert "traced (lr-traced 1.0, " in traced.stdout


def test_a_task_args_model_named_by_path_is_imported_when_first_used(tmp_path) -> None:
    """``@task(args="module:Class")``: not imported when the executor is defined; a model
    that cannot be imported is a PluginError naming the task when a routine uses it."""
    import sys

    from lakeroutine.executor import Executor, make_task_def, task

    (tmp_path / "lazy_args_models.py").write_text(
        "from lakeroutine.executor import Params\n\nclass LazyArgs(Params):\n    n: int\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:

        class LazyExecutor(Executor):
            @task(args="lazy_args_models:LazyArgs")
            def lazy(self, args):
                return {"n": args.n}

            @task(args="lazy_args_models:Missing")
            def broken(self, args):
                return {}

        assert "lazy_args_models" not in sys.modules
        model = LazyExecutor.tasks["lazy"].args_model
        assert model.__name__ == "LazyArgs" and "lazy_args_models" in sys.modules
        with pytest.raises(PluginError, match="task 'broken': cannot import its args model"):
            _ = LazyExecutor.tasks["broken"].args_model
        with pytest.raises(TypeError, match="is not 'module:Class'"):
            make_task_def("x", lambda self, args: None, "not a path")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("lazy_args_models", None)
