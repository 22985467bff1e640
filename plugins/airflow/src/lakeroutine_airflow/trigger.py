"""The trigger that waits, in Airflow's triggerer, for the remote work a step started.

It polls through the executor's own code: every ``interval_s`` it runs the step as a
*probe* (``lakeroutine.waiting.Deferral(probe=True)``), which re-attaches to the work saved
in the run state, looks once and stops there, starting nothing. When the work has ended
(or waited past the executor's ``max_wait_s``) it fires, and the task resumes on a worker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class RoutineWaitTrigger(BaseTrigger):
    """Waits for the wait ``wait`` of step ``step_id`` to end (``lakeroutine.waiting``)."""

    def __init__(
        self,
        *,
        routine_path: str,
        step_id: str,
        routine_vars: dict[str, Any],
        run_id: str,
        run_date: str,
        wait: str,
        interval_s: float,
        waited_s: float = 0.0,
        state_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.routine_path = routine_path
        self.step_id = step_id
        self.routine_vars = routine_vars
        self.run_id = run_id
        self.run_date = run_date
        self.wait = wait
        self.interval_s = interval_s
        self.waited_s = waited_s
        self.state_env = state_env or {}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "routine_path": self.routine_path,
                "step_id": self.step_id,
                "routine_vars": self.routine_vars,
                "run_id": self.run_id,
                "run_date": self.run_date,
                "wait": self.wait,
                "interval_s": self.interval_s,
                "waited_s": self.waited_s,
                "state_env": self.state_env,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Probe every ``interval_s`` until the work ends; one event, then stop."""
        started = time.monotonic() - self.waited_s
        while True:
            await asyncio.sleep(self.interval_s)
            waited = time.monotonic() - started
            try:
                outcome = await asyncio.to_thread(self.probe, waited)
            except Exception as exc:  # the routine cannot load here: the worker says why
                yield self._event("error", waited, f"{type(exc).__name__}: {exc}")
                return
            if outcome.status == "deferred" and not outcome.output["done"]:
                continue
            if outcome.status == "deferred":
                yield self._event("done", waited)
            else:
                yield self._event("error", waited, f"{outcome.status}: {outcome.error}")
            return

    def probe(self, waited_s: float) -> Any:
        """Run the step as a probe (blocking: called in a thread) and return its result."""
        from lakeroutine import run_routine
        from lakeroutine.waiting import Deferral

        result = run_routine(
            self.routine_path,
            vars=self.routine_vars,
            steps=[self.step_id],
            run_id=self.run_id,
            run_date=dt.datetime.fromisoformat(self.run_date),
            retries=False,
            preflight=False,
            deferral=Deferral(wait=self.wait, probe=True, waited_s=waited_s),
            env={**os.environ, **self.state_env},
        )
        return result.tasks[0]

    def _event(self, status: str, waited_s: float, error: str | None = None) -> TriggerEvent:
        payload = {"status": status, "wait": self.wait, "waited_s": waited_s, "error": error}
        return TriggerEvent(payload)
