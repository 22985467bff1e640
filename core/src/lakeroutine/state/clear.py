"""``lakeroutine state clear``: forget a routine's state, never under a live run unasked."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lakeroutine.errors import LakeroutineError, RoutineError, did_you_mean
from lakeroutine.state.base import LockHeld, LockInfo, RunLock, StateError, StateStore
from lakeroutine.state.lock import this_process

if TYPE_CHECKING:
    from lakeroutine.routine import Routine


def clear_state(
    store: StateStore,
    routine: Routine,
    *,
    task: str | None = None,
    force: bool = False,
    confirm: Callable[[str], bool] | None = None,
) -> list[str]:
    """Forget ``task``'s saved values (``INSTANCE.TASK``) or all of the routine's state.

    Refused (:class:`LockHeld`) while a live run holds the lock, unless ``force``; then
    ``confirm(question naming what will be forgotten)`` must say yes (None: do not ask).
    Returns what was forgotten."""
    prefix = None
    if task is not None:
        known = {f"{s.instance}.{t.name}" for s in routine.steps for t in s.tasks}
        if task not in known:
            raise RoutineError(
                f"--task {task}: the routine has no such task{did_you_mean(task, known)}",
                file=routine.label if routine.path else None,
            )
        prefix = f"{task}:"
    what = f"the saved values of {task}" if task else "all state (journals, saved ids, last run)"
    lock = store.run_lock()
    if force:
        holder = _holder(lock)
        question = f"forget {what} of routine {routine.name!r} in {store.where}"
        if holder is not None:
            question += f", although {holder.describe()} holds its lock"
        if confirm is not None and not confirm(question + "?"):
            raise LakeroutineError("nothing cleared")
        return store.forget(prefix)
    try:
        lock.acquire(this_process("state-clear"))
    except LockHeld as exc:
        raise StateError(
            f"another run holds the lock on {store.where} ({exc.holder.describe()}): refused "
            "to clear the state a live run uses (--force to clear anyway)"
        ) from None
    try:
        return store.forget(prefix)
    finally:
        lock.release()


def _holder(lock: RunLock) -> LockInfo | None:
    try:
        return lock.holder()
    except StateError:
        return None  # an unreadable lock record: forcing is the way out
