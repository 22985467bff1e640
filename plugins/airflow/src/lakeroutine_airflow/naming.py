"""What ties an Airflow DAG run to one lakeroutine run: its run id and run date, and the
routine variables to use while the DAG file is parsed (before templates can render)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from typing import Any

ENTRY_KEY = "lakeroutine_step"
"""XCom key of the report entry of a failed try (a succeeded one is the return value)."""

STATE_ENV = ("LAKEROUTINE_STATE_DIR", "LAKEROUTINE_STATE")
"""Environment variables that choose the run state's place, passed on to the triggerer."""


def lakeroutine_run_id(airflow_run_id: str) -> str:
    """The lakeroutine run id of an Airflow DAG run: its run id with every character a file
    name should not hold replaced by '-' (``manual__2026-11-01T06:00:00+00:00`` becomes
    ``manual__2026-11-01T06-00-00+00-00``); a long one is cut and given a digest."""
    cleaned = re.sub(r"[^A-Za-z0-9._+-]", "-", airflow_run_id).lstrip("._+-") or "run"
    if len(cleaned) > 200:
        digest = hashlib.sha256(airflow_run_id.encode()).hexdigest()[:12]
        cleaned = f"{cleaned[:187]}-{digest}"
    return cleaned


def airflow_id(name: str, *, group: bool = False) -> str:
    """A routine name as an Airflow DAG id (or TaskGroup id, ``group=True``): every
    character Airflow refuses replaced by ``_`` (``"sales daily (EU)"`` becomes
    ``sales_daily__EU_``), cut to Airflow's length limit with a digest when longer."""
    allowed = r"[^A-Za-z0-9_-]" if group else r"[^A-Za-z0-9_.-]"
    cleaned = re.sub(allowed, "_", name) or "routine"
    limit = 200 if group else 250
    if len(cleaned) > limit:
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        cleaned = f"{cleaned[: limit - 13]}_{digest}"
    return cleaned


def checked_id(value: str, what: str, *, group: bool = False) -> str:
    """``value`` if Airflow takes it as a DAG id (TaskGroup id), else one RoutineError
    naming ``what`` (the argument) instead of Airflow's own error."""
    if airflow_id(value, group=group) != value:
        from lakeroutine.errors import RoutineError

        allowed = "letters, digits, '_' and '-'" + ("" if group else " and '.'")
        raise RoutineError(
            f"{what} {value!r}: Airflow takes only {allowed} "
            f"(at most {200 if group else 250} characters); "
            f"for example {airflow_id(value, group=group)!r}"
        )
    return value


def run_identity(context: Mapping[str, Any]) -> tuple[str, dt.datetime]:
    """The lakeroutine ``run_id`` and ``run_date`` of the DAG run a task belongs to: the
    run date is the logical date (or, for a run without one, when it was due to run)."""
    dag_run = context["dag_run"]
    moment = context.get("logical_date") or getattr(dag_run, "logical_date", None)
    if moment is None:
        moment = dag_run.run_after
    return lakeroutine_run_id(dag_run.run_id), moment


def parse_time_vars(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """``vars`` as the DAG file's parse sees them: Airflow templates (``{{ ds }}``) rendered
    with today's date standing in for the logical date, so the routine validates; the real
    values are rendered when each task runs. A template that cannot render here is left out
    (the routine's own default for that variable applies while parsing)."""
    if not values:
        return {}
    templated = [name for name, value in values.items() if _has_template(value)]
    if not templated:
        return dict(values)
    import jinja2
    from airflow.sdk import macros

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    stand_in = {
        "ds": f"{now:%Y-%m-%d}",
        "ds_nodash": f"{now:%Y%m%d}",
        "ts": now.isoformat(),
        "ts_nodash": f"{now:%Y%m%dT%H%M%S}",
        "logical_date": now,
        "data_interval_start": now,
        "data_interval_end": now,
        "run_id": "parse",
        "params": {},
        "var": {"value": {}, "json": {}},
        "macros": macros,
    }
    environment = jinja2.Environment(undefined=jinja2.ChainableUndefined)
    rendered = dict(values)
    for name in templated:
        try:
            rendered[name] = _render(environment, values[name], stand_in)
        except jinja2.TemplateError:
            del rendered[name]
    return rendered


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(_has_template(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_template(item) for item in value)
    return False


def _render(environment: Any, value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return environment.from_string(value).render(context) if _has_template(value) else value
    if isinstance(value, Mapping):
        return {key: _render(environment, item, context) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_render(environment, item, context) for item in value]
    return value
