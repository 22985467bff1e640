"""Create-or-update of a named Glue resource (job, crawler), where updating is explicit.

``if_exists`` says what happens to an existing definition: ``skip`` it (a warning names the
fields that differ), ``update`` it, or ``fail`` the task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lakeroutine.aws import error_code
from lakeroutine.context import TaskContext
from lakeroutine.errors import TaskError


def create_or_update(
    *,
    kind: str,
    name: str,
    if_exists: str,
    get: Callable[[], dict[str, Any]],
    create: Callable[[], Any],
    update: Callable[[], Any],
    differences: Callable[[dict[str, Any]], list[str]],
    ctx: TaskContext,
) -> dict[str, Any]:
    """Create ``name`` if ``get()`` finds nothing; else skip, update or fail as asked.
    Returns the action taken and the fields that differ(ed)."""
    try:
        existing = get()
    except Exception as exc:
        if error_code(exc) != "EntityNotFoundException":
            raise
        create()
        ctx.logger.info("created %s %s", kind, name)
        return {"name": name, "action": "created", "changed": []}
    changed = differences(existing)
    if if_exists == "fail":
        raise TaskError(f"{kind} {name!r} already exists (if_exists is 'fail')")
    if if_exists == "skip" or not changed:
        if changed:
            ctx.logger.warning(
                "%s %s exists and differs in %s; skipped (set if_exists: update to change it)",
                kind,
                name,
                ", ".join(changed),
            )
        return {"name": name, "action": "skipped", "changed": changed}
    update()
    ctx.logger.info("updated %s %s: %s", kind, name, ", ".join(changed))
    return {"name": name, "action": "updated", "changed": changed}
