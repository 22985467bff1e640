"""lakeroutine-dagster: a routine file becomes Dagster definitions, one op per routine task.

``routine_definitions("routine.json")`` returns a ``dagster.Definitions`` holding one job named
after the routine; see the package's README for what a run of it does.
"""

from __future__ import annotations

from lakeroutine_dagster.definitions import routine_definitions

__version__ = "0.1.0"

__all__ = ["__version__", "routine_definitions"]
