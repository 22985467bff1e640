"""Which routine, and which steps, a definitions file describes.

When Dagster loads a code location (``dagster dev``, a code server, ``dagster job
execute``), the routine is validated offline, so an invalid routine is a load error naming
its file and field. When a run or step worker rebuilds the definitions it was launched with
(Dagster's *reconstruction*), every op validates the routine as it starts, so there the steps
are only read from the file: no plugin or executor module is imported.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeroutine.plugins import Registry
    from lakeroutine.steps import StepInfo


def absolute(path: str | os.PathLike[str], caller_depth: int) -> Path:
    """``path`` made absolute: a relative path is taken from the folder of the file that
    called ``routine_definitions`` (Dagster loads code locations from any directory)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"routine_definitions takes the routine file's path, not {type(path).__name__}: "
            "each op reads the file again in its own process"
        )
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate.resolve()
    caller = sys._getframe(caller_depth + 1).f_globals.get("__file__")
    base = Path(caller).resolve().parent if caller else Path.cwd()
    return (base / candidate).resolve()


def reconstructing() -> bool:
    """Whether Dagster is rebuilding definitions in a run or step worker, rather than
    loading a code location (Dagster's DefinitionsLoadContext; False if it has none)."""
    try:
        from dagster._core.definitions.definitions_load_context import (
            DefinitionsLoadContext,
            DefinitionsLoadType,
        )

        return (
            DefinitionsLoadContext.is_set()
            and DefinitionsLoadContext.get().load_type == DefinitionsLoadType.RECONSTRUCTION
        )
    except (ImportError, AttributeError):  # an older Dagster: always validate
        return False


def load_steps(
    path: Path, vars: Mapping[str, Any] | None, registry: Registry | None
) -> tuple[str, list[StepInfo]]:
    """The routine's name and steps: read as written when reconstructing, else validated
    once per exact input (raises :class:`lakeroutine.RoutineError` naming the file and the
    field; ``lakeroutine.parse_steps``: later loads of the same input read the file). With
    a ``registry`` of the caller's own, every load validates."""
    from lakeroutine.steps import load_routine, read_steps, steps_of

    name = _name_as_written(path) if reconstructing() else None
    if name:
        return name, read_steps(path)
    if registry is None:
        from lakeroutine.parse_steps import parse_steps

        return parse_steps(path, vars)
    routine = load_routine(path, vars=vars, registry=registry)
    return routine.name, steps_of(routine)


def _name_as_written(path: Path) -> str | None:
    """``routine_name`` of a JSON routine file, or None (then the routine is validated)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return None
    name = data.get("routine_name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None
