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
