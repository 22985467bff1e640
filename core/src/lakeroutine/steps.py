"""A routine's steps, for schedulers (Airflow, Dagster, cron, Kubernetes jobs...).

Every task of a routine is a *step* with a stable id, ``"<instance>.<task>"``, where
``instance`` is the executor block's key. When one block runs the same task more than once,
the n-th occurrence (n >= 2) is ``"<instance>.<task>#<n>"``; the first keeps the plain id, so
adding a later duplicate never renames an earlier step. ``position`` is the step's index
(0-based) in routine order: executor blocks in file order, tasks in listed order. ``slug``
is the id with only ``[A-Za-z0-9_]`` (``"StagingExecutor__transfer"``,
``"athena__run_query__2"``), unique within the routine, for schedulers that restrict names.

A scheduler runs a routine as one task per step:

1. at parse time, :func:`list_steps` loads the routine offline (validates names, params
   and args; no preflight, no network; imports only the executor modules the routine
   uses) and returns one :class:`StepInfo` per step. Where the routine is about to be
   validated anyway (a worker re-reading a DAG file to run one task), :func:`read_steps`
   gives the same steps from the file as written, without plugins or validation (a few
   milliseconds);
2. each scheduled task calls ``lakeroutine.run_routine(path, steps=[step_id],
   run_id=..., run_date=..., retries=False)``: every task of one scheduled run passes the
   same ``run_id`` and ``run_date``, so they share ``${run_id}``, ``${run_date}`` and the
   routine's run state (kept in the routine's ``state_dir``: it must be where every worker
   sees it); ``retries=False`` leaves retrying to the scheduler, which takes each step's
   ``retries`` and ``retry_delay_s`` from :class:`StepInfo`.

A step whose task re-runs after a failure, on any worker, re-attaches to the remote work
(queries, job runs, statements) its earlier try saved in the run state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeroutine.errors import RoutineError, did_you_mean
from lakeroutine.step_ids import next_step_id, step_slug, task_digest

if TYPE_CHECKING:  # imported when used: read_steps must stay cheap
    from lakeroutine.plugins import Registry
    from lakeroutine.routine import ExecutorStep, Routine

__all__ = [
    "StepInfo",
    "check_step_digest",
    "decode_data",
    "list_steps",
    "load_routine",
    "pick_steps",
    "read_data",
    "read_steps",
    "routine_version",
    "steps_in",
    "steps_of",
]


@dataclasses.dataclass(frozen=True)
class StepInfo:
    """One step of a routine, as a scheduler needs it."""

    id: str
    slug: str
    position: int
    instance: str
    executor: str
    task: str
    retries: int
    retry_delay_s: float
    timeout_s: float | None
    digest: str = ""  # the task as written: a changed digest means the id names another task

    def to_dict(self) -> dict[str, Any]:
        """The step as JSON-able values."""
        return dataclasses.asdict(self)


def routine_version(steps: Sequence[StepInfo]) -> str:
    """A short fingerprint of every step id and what it names (12 hex digits): two reads of
    a routine file agree on it exactly when no step id came to name another task. Schedulers
    record it where their workers can read back what the scheduler was shown."""
    text = "\n".join(f"{step.id}\t{step.digest}" for step in steps)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _check_slugs(steps: list[StepInfo], file: str | None) -> list[StepInfo]:
    slugs: dict[str, str] = {}
    for step in steps:
        if step.slug in slugs:
            raise RoutineError(
                f"steps {slugs[step.slug]!r} and {step.id!r} have the same name once "
                f"reduced to letters, digits and '_' ({step.slug!r}): rename an executor key",
                file=file,
                executor=step.instance,
            )
        slugs[step.slug] = step.id
    return steps


def steps_of(routine: Routine) -> list[StepInfo]:
    """The steps of a validated routine, in order, with unique slugs."""
    found = [
        StepInfo(
            task.step_id,
            step_slug(block.instance, task.name, task.step_id),
            task.position,
            block.instance,
            block.executor_name,
            task.name,
            task.retries,
            task.retry_delay_s,
            task.timeout_s,
            task.digest,
        )
        for block in routine.steps
        for task in block.tasks
    ]
    return _check_slugs(found, str(routine.path) if routine.path else None)


def read_steps(path: str | os.PathLike[str]) -> list[StepInfo]:
    """The steps of a routine file as written: no plugins loaded, nothing validated (a JSON
    or YAML read; the same ids as :func:`list_steps` for a valid routine). Only for a
    process that validates the routine before running it (``run_routine`` does). A file
    too malformed to list raises RoutineError; anything subtler is found by validation."""
    file = str(Path(path).resolve())
    return steps_in(read_data(Path(file)), file)


def steps_in(data: Any, file: str) -> list[StepInfo]:
    """The steps of a routine as written, already read from ``file`` (see :func:`read_steps`)."""
    blocks = data.get("executors") if isinstance(data, dict) else None
    if not isinstance(blocks, dict):
        raise RoutineError("the routine has no executors", file=file, field="executors")
    seen: dict[str, int] = {}
    found = []
    for instance, block in blocks.items():
        block = block if isinstance(block, dict) else {}
        executor = block.get("executor") or instance
        for item in block.get("tasks") or []:
            entry = item if isinstance(item, dict) else {"task": item}
            name = str(entry.get("task"))
            step_id = next_step_id(seen, instance, name)
            found.append(
                StepInfo(
                    step_id,
                    step_slug(instance, name, step_id),
                    len(found),
                    instance,
                    str(executor),
                    name,
                    _number(entry.get("retries"), int, 0),
                    _number(entry.get("retry_delay_s"), float, 0.0),
                    _number(entry.get("timeout_s"), float, None),
                    task_digest(str(executor), name, entry.get("args")),
                )
            )
    return _check_slugs(found, file)


def read_data(path: Path, raw: bytes | None = None) -> Any:
    """The routine file's content as written, JSON or YAML (``raw``: its bytes, already
    read); a file that does not parse raises the RoutineError validation would."""
    try:
        return decode_data(path, path.read_bytes() if raw is None else raw)
    except Exception:  # say it the way validation does
        from lakeroutine.routine import read_routine_file

        return read_routine_file(path)


def decode_data(path: Path, raw: bytes) -> Any:
    """``raw``, a routine file's bytes, parsed as its name says (YAML or JSON); raises
    whatever the parser raises (:func:`read_data` turns that into validation's words)."""
    text = raw.decode("utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)


def _number(value: Any, kind: type, default: Any) -> Any:
    try:
        return default if value is None else kind(value)
    except (TypeError, ValueError):
        return default


def load_routine(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    vars: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    registry: Registry | None = None,
) -> Routine:
    """Load and validate a routine offline, cheaply: names, params and args are checked;
    no preflight, no network; only the executor modules the routine uses are imported.
    Raises :class:`lakeroutine.RoutineError` naming the file and the field."""
    from lakeroutine.routine import validate_routine

    if registry is None:
        from lakeroutine.plugins import load_plugins

        registry = load_plugins(env=env)
    return validate_routine(source, registry=registry, variables=vars, env=env)


def list_steps(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    vars: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    registry: Registry | None = None,
) -> list[StepInfo]:
    """The steps of a routine file (or dict), in order, loaded offline (:func:`load_routine`)."""
    return steps_of(load_routine(source, vars=vars, env=env, registry=registry))


def pick_steps(routine: Routine, wanted: Sequence[str | int]) -> list[ExecutorStep]:
    """The executor blocks holding exactly the steps ``wanted`` (step ids or positions),
    in routine order. An unknown id or position is a RoutineError listing the known ones."""
    from lakeroutine.routine import ExecutorStep

    by_id = {task.step_id: task for block in routine.steps for task in block.tasks}
    by_position = {task.position: task.step_id for task in by_id.values()}
    chosen: set[str] = set()
    for item in wanted:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise RoutineError(f"steps: {item!r} is neither a step id nor a position")
        if isinstance(item, int):
            if item not in by_position:
                raise RoutineError(
                    f"steps: no step at position {item} (the routine has {len(by_position)}: "
                    f"0 to {len(by_position) - 1})",
                    file=str(routine.path) if routine.path else None,
                )
            chosen.add(by_position[item])
            continue
        if item not in by_id:
            hint = did_you_mean(item, by_id)
            raise RoutineError(
                f"steps: no step {item!r}{hint}; the routine's steps: {', '.join(by_id)}",
                file=str(routine.path) if routine.path else None,
            )
        chosen.add(item)
    picked = []
    for block in routine.steps:
        tasks = [task for task in block.tasks if task.step_id in chosen]
        if tasks:
            picked.append(
                ExecutorStep(block.instance, block.executor_name, block.cls, block.params, tasks)
            )
    return picked


def check_step_digest(path: str | os.PathLike[str], step_id: str, digest: str) -> None:
    """Refuse a step whose id, in the routine file as it is now, names another task than the
    one the scheduler read at parse time (``digest``: :attr:`StepInfo.digest` then): a task
    inserted before a duplicate ``#n`` would otherwise run in place of the one shown. An empty
    ``digest`` (none carried) or an id the file no longer has is left to ``run_routine``."""
    if not digest:
        return
    now = {step.id: step for step in read_steps(path)}
    step = now.get(step_id)
    if step is None or step.digest == digest:
        return
    moved = [other.id for other in now.values() if other.digest == digest]
    where = f"; the task it named is now step {moved[0]!r}" if moved else ""
    raise RoutineError(
        f"step {step_id!r} now names another task than when the scheduler read the routine: "
        f"it is now {step.executor}.{step.task} at position {step.position}, written otherwise"
        f"{where}. Refused, nothing run: reload the DAG/definitions so the scheduler shows the "
        "routine as it is",
        file=str(Path(path).resolve()),
        executor=step.instance,
        task=step.task,
    )
