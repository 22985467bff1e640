"""lakeroutine-airflow: a routine file rendered as an Airflow 3 DAG, one task per routine task.

``routine_dag(path)`` builds a whole DAG; ``RoutineTaskGroup(path)`` puts the same tasks in a
TaskGroup of an existing DAG. Names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["RoutineReportOperator", "RoutineStepOperator", "RoutineTaskGroup", "routine_dag"]

_LAZY = {
    "routine_dag": "lakeroutine_airflow.dag",
    "RoutineTaskGroup": "lakeroutine_airflow.dag",
    "RoutineStepOperator": "lakeroutine_airflow.operator",
    "RoutineReportOperator": "lakeroutine_airflow.report",
}

if TYPE_CHECKING:
    from lakeroutine_airflow.dag import RoutineTaskGroup, routine_dag
    from lakeroutine_airflow.operator import RoutineStepOperator
    from lakeroutine_airflow.report import RoutineReportOperator


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lakeroutine_airflow' has no attribute {name!r}")
