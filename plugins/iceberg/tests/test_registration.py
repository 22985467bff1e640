"""The plugin adds its tasks to the executors that are loaded, and only to those."""

from __future__ import annotations

from lakeroutine.plugins import load_plugins


def test_tasks_on_each_loaded_executor() -> None:
    registry = load_plugins(env={})
    for executor in ("DuckDBExecutor", "GlueExecutor", "AthenaExecutor"):
        tasks = registry.tasks_of(executor)
        assert {"iceberg_create_table", "iceberg_merge", "iceberg_maintain"} <= set(tasks)
    glue_args = registry.tasks_of("GlueExecutor")["iceberg_append"].args_model
    assert glue_args.location_kind == "s3"
    assert registry.tasks_of("DuckDBExecutor")["iceberg_append"].args_model.location_kind == "local"


def test_a_blocked_executor_plugin_is_left_alone() -> None:
    registry = load_plugins(env={"LAKEROUTINE_DISABLE_PLUGINS": "athena"})
    assert "AthenaExecutor" not in registry.executors
    assert "iceberg_append" in registry.tasks_of("DuckDBExecutor")


def test_loading_the_plugin_builds_no_iceberg_model_until_a_task_is_used() -> None:
    import json
    import subprocess
    import sys

    script = (
        "import json, sys\n"
        "from lakeroutine.plugins import load_plugins\n"
        "registry = load_plugins(env={})\n"
        "assert 'iceberg_merge' in registry.tasks_of('DuckDBExecutor')\n"
        "print(json.dumps(sorted(m for m in sys.modules if 'iceberg' in m)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    assert loaded == ["lakeroutine_iceberg", "lakeroutine_iceberg.plugin"], loaded


def test_the_lazy_names_match_the_bindings() -> None:
    from lakeroutine_iceberg.bindings import REDSHIFT_TASKS, TASKS
    from lakeroutine_iceberg.plugin import MODELS, REDSHIFT_MODELS

    named = {name: f"{model.__module__}:{model.__name__}" for name, (_, model) in TASKS.items()}
    assert named == MODELS
    on_redshift = {
        name: (f"{model.__module__}:{model.__name__}", function.__doc__)
        for name, (function, model) in REDSHIFT_TASKS.items()
    }
    assert on_redshift == REDSHIFT_MODELS
