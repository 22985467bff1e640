"""Exactly-once commits: each carries its run id, step id and a commit token in the
snapshot summary; the token is saved in the task's durable state before the first try, so
a retry or a rerun after a kill finds its own commit in the table's history and stops.
Concurrent writers retry conflicts with jittered exponential backoff, re-planned each time."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

from lakeroutine.context import TaskContext
from lakeroutine.errors import TaskError

RUN_ID = "lakeroutine.run-id"
STEP_ID = "lakeroutine.step-id"
TOKEN = "lakeroutine.commit-token"
INPUT = "lakeroutine.input-digest"
INPUTS = "lakeroutine.input-files"
_STATE_KEY = "iceberg_commit_token"


def commit_token(ctx: TaskContext, name: str = "") -> str:
    """This step's commit token: made once, saved durably before anything is committed."""
    key = f"{_STATE_KEY}:{name}" if name else _STATE_KEY
    token = ctx.state.get(key)
    if token is None:
        token = uuid.uuid4().hex
        ctx.state.set(key, token)
    return token


def summary(ctx: TaskContext, token: str) -> dict[str, str]:
    """The snapshot summary properties that make a commit recognisable."""
    return {RUN_ID: ctx.run_id, STEP_ID: f"{ctx.executor}.{ctx.task}", TOKEN: token}


def committed_snapshot(table: Any, token: str, input_digest: str | None = None) -> Any | None:
    """The snapshot of ``table`` whose summary carries ``token`` (or ``input_digest``: the
    same staged files committed by an earlier run), if any."""
    for snapshot in reversed(table.metadata.snapshots):
        props = snapshot.summary.additional_properties if snapshot.summary else {}
        if props.get(TOKEN) == token:
            return snapshot
        if input_digest is not None and props.get(INPUT) == input_digest:
            return snapshot
    return None


def committed_inputs(table: Any) -> set[tuple[str, int]]:
    """The staged files (name, size) that the table's snapshots say they committed."""
    import json

    found: set[tuple[str, int]] = set()
    for snapshot in table.metadata.snapshots:
        props = snapshot.summary.additional_properties if snapshot.summary else {}
        if INPUTS in props:
            found.update((name, int(size)) for name, size in json.loads(props[INPUTS]))
    return found


def backoff_s(attempt: int, base: float = 0.05, cap: float = 2.0) -> float:
    """Full-jitter exponential backoff: a random wait up to ``base * 2**attempt`` (capped)."""
    return random.uniform(0, min(cap, base * 2**attempt))


def is_conflict(exc: BaseException, commit_failed: type[BaseException]) -> bool:
    """A lost race: another writer committed first, or the SQLite catalog was busy."""
    if isinstance(exc, commit_failed):
        return True
    return type(exc).__name__ == "OperationalError" and "locked" in str(exc)


def commit_once(
    ctx: TaskContext,
    load: Callable[[], Any],
    work: Callable[[Any, dict[str, str]], dict[str, Any] | None],
    *,
    name: str = "",
    input_digest: str | None = None,
    max_attempts: int = 60,
) -> dict[str, Any]:
    """Run ``work(table, snapshot_properties)`` (which commits one transaction) exactly once.

    ``load()`` reloads the table; before each attempt the history is searched for this
    step's token, so a commit that landed before a kill or a lost reply is never repeated.
    ``work`` returns None when there is nothing to commit. ``input_digest`` names the
    staged input (files and sizes): a later run handed the same files commits nothing.
    """
    from pyiceberg.exceptions import CommitFailedException

    token = commit_token(ctx, name)
    props = summary(ctx, token)
    if input_digest is not None:
        props[INPUT] = input_digest
    for attempt in range(max_attempts):
        ctx.check_cancelled()
        table = load()
        done = committed_snapshot(table, token, input_digest)
        if done is not None:
            return {
                "snapshot_id": done.snapshot_id,
                "already_committed": True,
                "conflicts": attempt,
            }
        try:
            outcome = work(table, props)
        except Exception as exc:
            if not is_conflict(exc, CommitFailedException):
                raise
            ctx.logger.info("commit conflict (attempt %d): %s; retrying", attempt + 1, exc)
            ctx.sleep(backoff_s(attempt))
            continue
        if outcome is None:
            return {"snapshot_id": None, "nothing_to_commit": True, "conflicts": attempt}
        table = load()
        done = committed_snapshot(table, token)
        snapshot_id = done.snapshot_id if done is not None else None
        return {"snapshot_id": snapshot_id, "conflicts": attempt, **outcome}
    raise TaskError(f"gave up after {max_attempts} commit conflicts in a row")
