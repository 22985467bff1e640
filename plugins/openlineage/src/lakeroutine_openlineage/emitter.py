"""Sending events without ever failing or stalling a run.

Events are handed to one background thread per process, which sends them through the
OpenLineage client's transport (``openlineage.yml``, ``OPENLINEAGE_URL``...). A run waits for
its events only when it ends, and then at most ``LAKEROUTINE_OPENLINEAGE_TIMEOUT_S`` seconds
(default 10). The first failure to send in a run is logged once (masked) and the run's
remaining events are dropped, so a dead endpoint costs at most one bounded wait per run.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("lakeroutine.openlineage")

DEFAULT_TIMEOUT_S = 10.0
TIMEOUT_ENV = "LAKEROUTINE_OPENLINEAGE_TIMEOUT_S"


def flush_timeout_s(env: Any = os.environ) -> float:
    """How long the end of a run waits at most for its events to be sent."""
    try:
        return max(0.0, float(env.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)))
    except ValueError:
        return DEFAULT_TIMEOUT_S


def config_key(env: Any = os.environ) -> tuple[Any, ...]:
    """What chooses the client's configuration: the OpenLineage variables and the working
    folder (``openlineage.yml`` is looked for there). A new key builds a new client."""
    names = tuple(sorted((k, v) for k, v in env.items() if k.startswith("OPENLINEAGE")))
    return (os.getcwd(), names)


def configured(env: Any = os.environ) -> bool:
    """Whether the OpenLineage client is configured at all, where it looks: an
    ``OPENLINEAGE_URL``, ``OPENLINEAGE_CONFIG`` or ``OPENLINEAGE__...`` variable, an
    ``openlineage.yml`` in the working folder or in ``~/.openlineage``. Unconfigured (or
    ``OPENLINEAGE_DISABLED=true``), nothing is sent: the client's fallback, printing every
    event to its console logger, is then asked for explicitly (``transport: {type: console}``)."""
    if env.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OPENLINEAGE_URL") or env.get("OPENLINEAGE_CONFIG"):
        return True
    if any(name.startswith("OPENLINEAGE__") for name in env):
        return True
    home = os.path.join(os.path.expanduser("~/.openlineage"), "openlineage.yml")
    return os.path.isfile("openlineage.yml") or os.path.isfile(home)


def build_client() -> Any:
    """An OpenLineage client configured the client's usual way."""
    from openlineage.client import OpenLineageClient

    return OpenLineageClient()


class RunChannel:
    """The events of one routine run: counts what is in flight; ``broken`` once one fails."""

    def __init__(
        self, label: str, key: tuple[Any, ...], mask: Callable[[str], str], enabled: bool = True
    ) -> None:
        self.label = label
        self.key = key
        self.mask = mask
        self.broken = not enabled  # an unconfigured client: nothing to send, nothing to say
        self.pending = 0
        self.done = threading.Condition()
        self.runs: dict[str, Any] = {}  # step id -> its events.TaskRun, built once

    def fail(self, why: str) -> None:
        """Stop sending this run's events; say why once."""
        if not self.broken:
            self.broken = True
            log.warning("OpenLineage: events of %s not sent: %s", self.label, self.mask(why))


class Emitter:
    """One background sender per process; clients are built in it, once per configuration."""

    def __init__(self, client_factory: Callable[[], Any] = build_client) -> None:
        self._factory = client_factory
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._queue: queue.SimpleQueue[tuple[RunChannel, Any]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def send(self, channel: RunChannel, event: Any) -> None:
        """Queue ``event`` (never blocks, never raises)."""
        if channel.broken:
            return
        with channel.done:
            channel.pending += 1
        self._ensure_thread()
        self._queue.put((channel, event))

    def finish(self, channel: RunChannel, timeout_s: float) -> None:
        """Wait until the run's events are sent, ``timeout_s`` at most; then drop the rest."""
        with channel.done:
            channel.done.wait_for(lambda: channel.pending == 0, timeout=timeout_s)
            left = channel.pending
        if left:
            channel.fail(f"{left} not sent within {timeout_s:g} s ({TIMEOUT_ENV})")

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="lakeroutine-openlineage", daemon=True
                )
                self._thread.start()

    def _work(self) -> None:
        while True:
            channel, event = self._queue.get()
            try:
                if not channel.broken:
                    self._client(channel.key).emit(event)
            except Exception as exc:  # a transport's failure never reaches the run
                channel.fail(f"{type(exc).__name__}: {exc}")
            finally:
                with channel.done:
                    channel.pending -= 1
                    channel.done.notify_all()

    def _client(self, key: tuple[Any, ...]) -> Any:
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self._factory()
        return client
