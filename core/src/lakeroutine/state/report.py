"""What ``lakeroutine state show`` and ``state clear`` say about a routine's state."""

from __future__ import annotations

from typing import Any

from lakeroutine.state.base import RUN_SCOPE, StateStore
from lakeroutine.wording import counted

JOURNALS = {  # journal tables in a user's words; their scopes are digests of locations
    "staging": "landing files in the staging journal of {owner}",
    "staging_outputs": "staging names owned by landing files (one staging location)",
}


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
        lines.append(f"{journal_label(journal)}: {counts or 'none'}")
    for task, values in sorted(info["tasks"].items()):
        shown = ", ".join(f"{k}={v}" for k, v in sorted(values.items()))
        lines.append(f"saved by task {task}: {shown}")
    if info["journals"]:
        lines.append("(--json shows each journal's scope: its block and a digest of its locations)")
    return "\n".join(lines) + "\n"


def journal_label(journal: dict[str, Any]) -> str:
    """What a journal holds, in a user's words, without the digest that keys it."""
    text = JOURNALS.get(journal["table"], "entries of journal {table} of {owner}")
    return text.format(table=journal["table"], owner=task_of(journal["scope"]))


def forgotten(info: dict[str, Any], routine_name: str, task: str | None) -> str:
    """What ``state clear`` forgot, from the summary taken just before, in a user's words."""
    if task is not None:
        values = sorted(info["tasks"].get(task, {}))
        if not values:
            return f"nothing to forget: task {task} had no saved values in {info['store']}"
        return f"forgot {counted(len(values), 'value')} saved by task {task} ({', '.join(values)})"
    parts = []
    last = info["last_run"]
    if last:
        parts.append(f"the last run ({last.get('run_id')}, {last.get('status')})")
    for journal in info["journals"]:
        entries = sum(journal["by_status"].values())
        parts.append(f"{entries} {journal_label(journal)}")
    if info["tasks"]:
        tasks = sorted(info["tasks"])
        parts.append(f"the values saved by {counted(len(tasks), 'task')} ({', '.join(tasks)})")
    if not parts:
        return f"nothing to forget: no state of routine {routine_name} in {info['store']}"
    return f"forgot routine {routine_name}'s state in {info['store']}: " + "; ".join(parts)


def _when(timestamp: float) -> str:
    import datetime as dt

    moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    return moment.isoformat(timespec="seconds")
