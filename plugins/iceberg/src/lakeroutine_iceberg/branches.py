"""Iceberg branches as the audit place of write-audit-publish: a branch is made from main's
head before the first write to it, and publishing moves main to the branch's head only when
that is a fast-forward (main has not moved since the branch was made)."""

from __future__ import annotations

from typing import Any

from lakeroutine.errors import TaskError


def ensure_branch(table: Any, name: str) -> None:
    """Make branch ``name`` at main's head if it is missing (an empty table's first write
    makes it); a branch made by a concurrent writer meanwhile is taken as is."""
    from pyiceberg.exceptions import CommitFailedException

    if name in table.metadata.refs:
        return
    head = table.current_snapshot()
    if head is None:
        return  # nothing to branch from: the first write makes the branch
    try:
        table.manage_snapshots().create_branch(
            snapshot_id=head.snapshot_id, branch_name=name
        ).commit()
    except CommitFailedException:
        table.refresh()
        if name not in table.metadata.refs:
            raise


def branch_snapshot(table: Any, name: str) -> int | None:
    """The snapshot id at the head of ``name`` (None: ``main`` of an empty table); a
    TaskError when the branch does not exist."""
    ref = table.metadata.refs.get(name)
    if ref is not None:
        return int(ref.snapshot_id)
    if name == "main":
        return None
    raise TaskError(f"table {'.'.join(table.name())} has no branch {name!r}: write to it first")


def _ancestors(table: Any, snapshot_id: int) -> set[int]:
    found: set[int] = set()
    current: int | None = snapshot_id
    while current is not None and current not in found:
        found.add(current)
        snapshot = table.snapshot_by_id(current)
        current = snapshot.parent_snapshot_id if snapshot is not None else None
    return found


def fast_forward(table: Any, branch: str) -> dict[str, Any]:
    """Move main to the head of ``branch`` (publish); refused when main has commits the
    branch lacks. Done again, it finds main already there and changes nothing."""
    head = branch_snapshot(table, branch)
    main = table.current_snapshot()
    if main is not None and main.snapshot_id == head:
        return {"branch": branch, "snapshot_id": head, "already_published": True}
    if head is None or (main is not None and main.snapshot_id not in _ancestors(table, head)):
        raise TaskError(
            f"main of {'.'.join(table.name())} moved since branch {branch!r} was made: not a "
            "fast-forward, nothing published (write the branch again from main)"
        )
    table.manage_snapshots().set_current_snapshot(snapshot_id=head).commit()
    return {"branch": branch, "snapshot_id": head, "already_published": False}
