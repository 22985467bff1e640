"""lakeroutine: run data-lake jobs from a routine file, with executors from plugins.

Importing this package is cheap: names are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "hookimpl": "lakeroutine.hookspecs",  # imports pluggy: a cached parse never needs it
    "Executor": "lakeroutine.executor",
    "Params": "lakeroutine.executor",
    "task": "lakeroutine.executor",
    "TaskContext": "lakeroutine.context",
    "RunContext": "lakeroutine.context",
    "TaskCancelled": "lakeroutine.context",
    "LakeroutineError": "lakeroutine.errors",
    "PluginError": "lakeroutine.errors",
    "RoutineError": "lakeroutine.errors",
    "TaskError": "lakeroutine.errors",
    "load_plugins": "lakeroutine.plugins",
    "run_routine": "lakeroutine.orchestrator",
    "list_steps": "lakeroutine.steps",
    "load_routine": "lakeroutine.steps",
    "StepInfo": "lakeroutine.steps",
    "Deferral": "lakeroutine.waiting",
    "validate_routine": "lakeroutine.routine",
    "RunResult": "lakeroutine.results",
    "TaskResult": "lakeroutine.results",
}

__all__ = [
    "Deferral",
    "Executor",
    "LakeroutineError",
    "Params",
    "PluginError",
    "RoutineError",
    "RunContext",
    "RunResult",
    "StepInfo",
    "TaskCancelled",
    "TaskContext",
    "TaskError",
    "TaskResult",
    "__version__",
    "hookimpl",
    "list_steps",
    "load_plugins",
    "load_routine",
    "run_routine",
    "task",
    "validate_routine",
]

if TYPE_CHECKING:
    from lakeroutine.context import RunContext, TaskCancelled, TaskContext
    from lakeroutine.errors import LakeroutineError, PluginError, RoutineError, TaskError
    from lakeroutine.executor import Executor, Params, task
    from lakeroutine.hookspecs import hookimpl
    from lakeroutine.orchestrator import run_routine
    from lakeroutine.plugins import load_plugins
    from lakeroutine.results import RunResult, TaskResult
    from lakeroutine.routine import validate_routine
    from lakeroutine.steps import StepInfo, list_steps, load_routine
    from lakeroutine.waiting import Deferral


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lakeroutine' has no attribute {name!r}")
