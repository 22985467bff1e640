"""What ``lakeroutine state show`` and ``state clear`` say about a routine's state."""

from __future__ import annotations

from typing import Any

from lakeroutine.state.base import RUN_SCOPE, StateStore


def task_of(scope: str) -> str:
    """``INSTANCE.TASK`` of a value scope (``INSTANCE.TASK:params-digest``)."""
    return scope.partition(":")[0]


def summary(store: StateStore) -> dict[str, Any]:
    """Last run, lock holder and lease expiry, journal counts by status, saved values."""
    holder = store.run_lock().holder()
    scopes = store.value_scopes()
    last = store.get_values(RUN_SCOPE).get("last") if RUN_SCOPE in scopes else None
    journals = []
    for table, scope in store.record_scopes():
        records = store.records(table, scope)
        counts = records.count_by("status")
        if "None" in counts:  # records without a status (e.g. output claims)
            counts["entries"] = counts.pop("None")
        journals.append({"table": table, "scope": scope, "by_status": counts})
    tasks: dict[str, dict[str, Any]] = {}
    for scope in scopes:
        if scope != RUN_SCOPE:
            tasks.setdefault(task_of(scope), {}).update(store.get_values(scope))
    return {
        "store": store.where,
        "last_run": last,
        "lock": None if holder is None else holder.to_json(),
        "journals": journals,
        "tasks": tasks,
    }


def render(info: dict[str, Any]) -> str:
    """The summary as text for a terminal."""
    lines = [f"state: {info['store']}"]
    last = info["last_run"]
    if last:
        lines.append(
            f"last run: {last.get('run_id')} {last.get('status')} "
            f"(started {last.get('started')}, finished {last.get('finished') or '-'})"
        )
    else:
        lines.append("last run: none recorded")
    lock = info["lock"]
    if lock is None:
        lines.append("lock: free")
    else:
        expires = lock.get("expires")
        until = f", lease until {_when(expires)}" if expires else ""
        who = f"run {lock['run_id']} (pid {lock['pid']} on {lock['host']}{until})"
        lines.append(f"lock: held by {who}")
    for journal in info["journals"]:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(journal["by_status"].items()))
        lines.append(f"journal {journal['table']} {journal['scope']}: {counts or 'empty'}")
    for task, values in sorted(info["tasks"].items()):
        shown = ", ".join(f"{k}={v}" for k, v in sorted(values.items()))
        lines.append(f"task {task}: {shown}")
    return "\n".join(lines) + "\n"


def _when(timestamp: float) -> str:
    import datetime as dt

    moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    return moment.isoformat(timespec="seconds")
