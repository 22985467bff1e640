"""Durable run state: saved values per task, the staging journal's records and the run lock,
kept by a store chosen by URL (local SQLite by default; plugins add others)."""

from lakeroutine.state.base import (
    BATCH,
    LockHeld,
    LockInfo,
    Records,
    RunLock,
    StateError,
    StateStore,
    TaskState,
)
from lakeroutine.state.sqlite import SqliteStateStore

__all__ = [
    "BATCH",
    "LockHeld",
    "LockInfo",
    "Records",
    "RunLock",
    "SqliteStateStore",
    "StateError",
    "StateStore",
    "TaskState",
]
