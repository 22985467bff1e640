"""What every state store offers the core and executors: saved values per task, keyed
record tables (the staging journal), a run lock and a durable checkpoint.

A store serves one routine. It is built by the factory a plugin registers for its URL
scheme (``register_state_stores``) and must not touch the network or disk until first used.
Executors never see a store's own format (SQL, objects): only :class:`TaskState` and
:class:`Records`.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from lakeroutine.errors import LakeroutineError, RoutineError

RUN_SCOPE = "lakeroutine:run"  # values the core keeps about the routine's runs
BATCH = 1000  # record changes a store may buffer before it must write them


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps's own C encoder, built once (json.dumps builds one per call: over half the cost
# of a journal entry's few fields). No circular-reference check: state values are trees.
_encoder = (
    json.encoder.c_make_encoder(
        None, _not_json, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True
    )
    if json.encoder.c_make_encoder is not None
    else None
)


def dumps(value: Any, **options: Any) -> str:
    """``value`` as JSON for a state store. State is read back, so a secret is never masked
    there (a masked value would be read back wrong): what is stored must hold none (names
    relative to a location, digests of locations), and a value holding a secret the process
    knows is refused with a :class:`StateError` instead of being written."""
    from lakeroutine.redact import mask

    text = (
        json.dumps(value, **options) if options or _encoder is None else "".join(_encoder(value, 0))
    )
    if mask(text) != text:
        raise StateError(
            "refused to write a secret into the run state (a value to save holds a secret "
            "this run read, e.g. from ${env:...}); state keeps names and digests, never secrets"
        )
    return text


class StateError(LakeroutineError):
    """A state store cannot be used (missing, not writable, corrupt). One line, no secrets."""


class LockHeld(StateError, RoutineError):
    """Another live run holds the routine's run lock (exit 2: nothing has run)."""

    def __init__(self, holder: LockInfo, where: str, routine: str = "ROUTINE") -> None:
        self.holder = holder
        RoutineError.__init__(
            self,
            f"routine {routine!r} is already running ({holder.describe()}): another run holds "
            f"the lock on {where}; run again when it ends, or pass --wait to wait for it",
        )


class CorruptState(StateError):
    """A state file or object that cannot be read (its message names the way out)."""


def corrupt(where: str, detail: str, routine_hint: str = "ROUTINE") -> StateError:
    """The one-line error for a state file or object that cannot be read."""
    return CorruptState(
        f"state {where} is corrupt ({detail}); forget this routine's state with: "
        f"lakeroutine state clear {routine_hint}"
    )


@dataclass(frozen=True)
class LockInfo:
    """Who holds a run lock and until when (``expires``: Unix time; None while the holding
    process lives, for locks the operating system releases)."""

    run_id: str
    host: str
    pid: int
    acquired: float
    expires: float | None = None

    def describe(self) -> str:
        """``run ID, pid N on HOST, since TIME[, lease expires in N s]``."""
        since = dt.datetime.fromtimestamp(self.acquired, dt.timezone.utc)
        text = f"run {self.run_id}, pid {self.pid} on {self.host}, since {since:%Y-%m-%dT%H:%M:%S}Z"
        if self.expires is not None:
            text += f", lease expires in {max(0.0, self.expires - time.time()):.0f} s"
        return text

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LockInfo:
        return cls(
            str(data["run_id"]),
            str(data["host"]),
            int(data["pid"]),
            float(data["acquired"]),
            None if data.get("expires") is None else float(data["expires"]),
        )


class RunLock(Protocol):
    """One run of a routine at a time. ``acquire`` raises :class:`LockHeld` (after waiting
    up to ``wait_s``); if a lease cannot be kept, ``lost()`` turns true and ``on_lost`` is
    called (from another thread): the run must stop."""

    def acquire(
        self,
        holder: LockInfo,
        wait_s: float = 0.0,
        on_lost: Callable[[], None] | None = None,
    ) -> None: ...
    def release(self) -> None: ...
    def holder(self) -> LockInfo | None: ...
    def lost(self) -> bool: ...


class Records(Protocol):
    """A table of JSON records by key (one per scope), e.g. a staging journal.

    Changes may be buffered (up to :data:`BATCH`) until :meth:`flush`, or until the store's
    checkpoint; ``durable=True`` writes before returning. Reads see this process's writes.
    A table opened with ``records(..., after=other)`` is written only once the changes made
    to ``other`` before it are (the staging journal after its output claims). Optional
    batch calls a store may add (the journal uses them when present): ``get_many(keys)``
    and ``add_many({key: record})`` (``add`` for many keys, made durable by ``flush``)."""

    def get(self, key: str) -> dict[str, Any] | None: ...
    def put(self, key: str, record: dict[str, Any], *, durable: bool = False) -> None: ...
    def add(self, key: str, record: dict[str, Any]) -> dict[str, Any] | None: ...
    def update(
        self, keys: Iterable[str], fields: dict[str, Any], *, durable: bool = False
    ) -> None: ...
    def delete(self, keys: Iterable[str], *, durable: bool = False) -> None: ...
    def scan(self, batch: int = BATCH) -> Iterator[tuple[str, dict[str, Any]]]: ...
    def count(self) -> int: ...
    def count_by(self, field: str) -> dict[str, int]: ...
    def flush(self) -> None: ...


@runtime_checkable
class StateStore(Protocol):
    """Durable state of one routine. ``where`` names it in messages (never a secret)."""

    where: str

    def get_values(self, scope: str) -> dict[str, Any]: ...
    def set_value(self, scope: str, name: str, value: Any) -> None: ...
    def delete_value(self, scope: str, name: str) -> None: ...
    def clear_values(self, scope: str) -> None: ...
    def value_scopes(self) -> list[str]: ...
    def records(self, table: str, scope: str, after: Records | None = None) -> Records: ...
    def record_scopes(self) -> list[tuple[str, str]]: ...
    def run_lock(self) -> RunLock: ...
    def checkpoint(self) -> None: ...
    def forget(self, scope_prefix: str | None = None) -> list[str]: ...
    def close(self) -> None: ...


class TaskState:
    """Key/value state of one task (or executor) in a routine, kept across runs."""

    def __init__(self, store: StateStore, scope: str) -> None:
        self.store = store
        self.scope = scope

    def get(self, name: str, default: Any = None) -> Any:
        """The saved value of ``name``, or ``default``."""
        return self.store.get_values(self.scope).get(name, default)

    def set(self, name: str, value: Any) -> None:
        """Save ``value`` (JSON-able) durably before acting on it."""
        self.store.set_value(self.scope, name, value)

    def delete(self, name: str) -> None:
        """Forget ``name``."""
        self.store.delete_value(self.scope, name)

    def clear(self) -> None:
        """Forget every value of this task."""
        self.store.clear_values(self.scope)

    def items(self) -> dict[str, Any]:
        """Every saved value of this task."""
        return dict(self.store.get_values(self.scope))
