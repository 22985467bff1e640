"""The trigger on its own, driven as Airflow's triggerer drives it: serialization round
trip, and a probe that cannot run ends the wait with an error the resumed task raises."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest


def test_the_trigger_serializes_to_what_rebuilds_it() -> None:
    from airflow.sdk._shared.module_loading import import_string
    from lakeroutine_airflow.trigger import RoutineWaitTrigger

    trigger = RoutineWaitTrigger(
        routine_path="/lake/routine.json",
        step_id="athena.run_query#2",
        routine_vars={"day": "2026-11-01"},
        run_id="manual__x",
        run_date="2026-11-01T00:00:00+00:00",
        wait="Athena query 1234 #2",
        interval_s=5.0,
        waited_s=12.5,
        state_env={"LAKEROUTINE_STATE_DIR": "/shared/state"},
    )
    classpath, kwargs = trigger.serialize()
    again = import_string(classpath)(**kwargs)
    assert again.serialize() == (classpath, kwargs)


def test_a_probe_that_cannot_run_fires_an_error_the_task_raises(tmp_path: Path) -> None:
    from lakeroutine_airflow.operator import RoutineStepFailed, RoutineStepOperator
    from lakeroutine_airflow.trigger import RoutineWaitTrigger

    missing = tmp_path / "gone.json"
    trigger = RoutineWaitTrigger(
        routine_path=str(missing),
        step_id="athena.run_query",
        routine_vars={},
        run_id="r",
        run_date="2026-11-01T00:00:00+00:00",
        wait="Athena query 1234",
        interval_s=0.01,
    )

    async def first_event() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    event = asyncio.run(first_event())
    assert event["status"] == "error" and event["wait"] == "Athena query 1234"
    assert event["error"] == f"RoutineError: {missing}: file not found"
    task = RoutineStepOperator(task_id="t", routine_path=str(missing), step_id="athena.run_query")
    with pytest.raises(RoutineStepFailed, match=r"athena\.run_query: waiting failed: RoutineError"):
        task.resume(context={}, event=event)
