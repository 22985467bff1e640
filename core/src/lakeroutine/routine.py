"""Routine files: reading them, their format as models, and validating them whole.

The notebook's format is valid verbatim::

    {"routine_name": "x",
     "executors": {"StagingExecutor": {"params": {...}, "tasks": ["transfer"]}}}

plus an instance key with an explicit ``"executor"``, tasks as objects
(``{"task", "args", "retries", "retry_delay_s", "timeout_s"}``), ``"vars"`` and
``"state_dir"``. :func:`validate_routine` checks everything before anything runs and
raises one :class:`RoutineError` listing every problem.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lakeroutine.context import digest
from lakeroutine.errors import RoutineError, did_you_mean
from lakeroutine.executor import Executor, TaskDef
from lakeroutine.step_ids import next_step_id
from lakeroutine.variables import Substituter, VariableError, resolve_variables

if TYPE_CHECKING:
    from lakeroutine.plugins import Registry


class TaskEntry(BaseModel):
    """A task given as an object: its name, args and how to retry or time it out."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(description="Name of a task of this executor")
    args: dict[str, Any] = Field(default_factory=dict, description="The task's arguments")
    retries: int = Field(0, ge=0, description="Attempts after the first one fails")
    retry_delay_s: float = Field(0.0, ge=0, description="Seconds between attempts")
    timeout_s: float | None = Field(None, gt=0, description="Cancel the task after this long")


class ExecutorBlock(BaseModel):
    """One executor of the routine: which one, its params and its tasks in order."""

    model_config = ConfigDict(extra="forbid")

    executor: str | None = Field(
        None, description="Registered executor name; defaults to the block's key"
    )
    description: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    tasks: list[str | TaskEntry] = Field(default_factory=list)


class RoutineFile(BaseModel):
    """The top level of a routine file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str | None = Field(None, alias="$schema")
    routine_name: str = Field(min_length=1)
    description: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    state_dir: str | None = Field(
        None, description="Where run state is kept (default .lakeroutine/state beside the file)"
    )
    executors: dict[str, ExecutorBlock]


@dataclass
class TaskStep:
    """A validated task, ready to run."""

    name: str
    definition: TaskDef
    args: BaseModel | None
    retries: int = 0
    retry_delay_s: float = 0.0
    timeout_s: float | None = None
    state_key: str = ""
    step_id: str = ""
    position: int = 0


@dataclass
class ExecutorStep:
    """A validated executor block: the class, its params and its tasks."""

    instance: str
    executor_name: str
    cls: type[Executor]
    params: BaseModel
    tasks: list[TaskStep]


@dataclass
class Routine:
    """A whole validated routine."""

    name: str
    path: Path | None
    base_dir: Path
    state_dir: Path
    run_id: str
    run_date: str
    variables: dict[str, Any]
    steps: list[ExecutorStep]
    secrets: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return str(self.path) if self.path else f"routine {self.name!r}"


def read_routine_file(path: Path) -> dict[str, Any]:
    """Parse a JSON (or YAML) routine file into a dict, or raise a RoutineError that names
    the file and, for malformed JSON, the line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RoutineError("file not found", file=str(path)) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise RoutineError(f"cannot read: {exc}", file=str(path)) from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise RoutineError(
                "YAML routines need PyYAML: pip install 'lakeroutine[yaml]'", file=str(path)
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RoutineError(f"malformed YAML: {exc}", file=str(path)) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RoutineError(
                f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                file=str(path),
            ) from None
    if not isinstance(data, dict):
        raise RoutineError(
            f"a routine must be a JSON object, not {type(data).__name__}", file=str(path)
        )
    return data


def _pydantic_problems(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """(field, message) pairs of a validation error, without the input values (which may
    be secrets)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(part) for part in error["loc"])
        fieldname = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        message = error["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append((fieldname, message))
    return problems


def validate_routine(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    registry: Registry,
    variables: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    run_id: str | None = None,
    run_date: str | dt.date | None = None,
) -> Routine:
    """Check a routine (a file path or an already-parsed dict) whole and build it.

    Every executor must be registered, every param and task arg valid, every task known and
    public. Raises :class:`RoutineError` listing every problem; touches nothing: no
    preflight, no network, and only the executor modules the routine names are imported.
    ``run_id`` and ``run_date`` (a ``YYYY-MM-DD`` string, a date, or a datetime, which also
    sets ``${run_ts}``) replace the generated ones, so a scheduler can run a routine's steps
    as separate processes of one run (see :mod:`lakeroutine.steps`).
    """
    env = os.environ if env is None else env
    path: Path | None = None
    if isinstance(source, Mapping):
        data = dict(source)
        base_dir = Path.cwd()
    else:
        path = Path(source).resolve()
        data = read_routine_file(path)
        base_dir = path.parent
    file_label = str(path) if path else None

    try:
        spec = RoutineFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            RoutineError(msg, file=file_label, field=f) for f, msg in _pydantic_problems(exc)
        ]
        raise _combine(problems, file_label) from None

    now = dt.datetime.now(dt.timezone.utc)
    if run_id is not None:
        _check_run_id(run_id, file_label)
    run_id = run_id or f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    day, stamp = _run_date(run_date, now, file_label)
    builtins = {
        "run_id": run_id,
        "run_date": day,
        "run_ts": stamp,
        "routine_name": spec.routine_name,
        "routine_dir": str(base_dir),
    }
    try:
        resolved, secrets = resolve_variables(spec.vars, dict(variables or {}), builtins, env)
    except VariableError as exc:
        raise RoutineError(str(exc), file=file_label, field="vars") from None
    substituter = Substituter(resolved, env)

    state_dir_text = spec.state_dir or env.get("LAKEROUTINE_STATE_DIR") or ".lakeroutine/state"
    try:
        state_dir = base_dir / Path(str(substituter.substitute(state_dir_text))).expanduser()
    except VariableError as exc:
        raise RoutineError(str(exc), file=file_label, field="state_dir") from None

    if not spec.executors:
        raise RoutineError("the routine has no executors", file=file_label, field="executors")

    storages = registry.storages()
    problems: list[RoutineError] = []
    steps: list[ExecutorStep] = []
    seen: dict[str, int] = {}  # "instance.task" -> how many times the routine runs it
    step_count = 0  # the position of the next step in the whole routine
    for instance, block in spec.executors.items():
        where = {"file": file_label, "executor": instance}
        executor_name = block.executor or instance
        entry = registry.executors.get(executor_name)
        if entry is None:
            hint = did_you_mean(executor_name, registry.executors)
            registered = ", ".join(sorted(registry.executors))
            problems.append(
                RoutineError(
                    f"unknown executor {executor_name!r}{hint}; registered: {registered}",
                    field="executor" if block.executor else None,
                    **where,
                )
            )
            continue
        cls = entry.cls
        context = {"base_dir": base_dir, "storages": storages, "env": env, "variables": resolved}
        params: BaseModel | None = None
        try:
            raw_params = substituter.substitute(block.params)
            params = cls.Params.model_validate(raw_params, context=context)
        except VariableError as exc:
            problems.append(RoutineError(str(exc), field="params", **where))
        except ValidationError as exc:
            problems += [
                RoutineError(msg, field=f, **where) for f, msg in _pydantic_problems(exc, "params")
            ]
        secrets |= substituter.secrets

        params_json = params.model_dump(mode="json") if params is not None else None
        tasks = registry.tasks_of(executor_name)
        task_steps: list[TaskStep] = []
        for position, item in enumerate(block.tasks):
            entry_model = item if isinstance(item, TaskEntry) else TaskEntry(task=item)
            name = entry_model.task
            task_where = {**where, "task": name}
            if name.startswith("_"):
                kind = "dunder" if name.startswith("__") else "private"
                problems.append(
                    RoutineError(
                        f"{kind} name: only public tasks can be called from a routine",
                        field=f"tasks[{position}]",
                        **task_where,
                    )
                )
                continue
            definition = tasks.get(name)
            if definition is None:
                hint = did_you_mean(name, tasks)
                problems.append(
                    RoutineError(
                        f"unknown task{hint}; {executor_name} has: {', '.join(sorted(tasks))}",
                        field=f"tasks[{position}]",
                        **task_where,
                    )
                )
                continue
            args: BaseModel | None = None
            try:
                raw_args = substituter.substitute(entry_model.args)
                if definition.args_model is not None:
                    args = definition.args_model.model_validate(raw_args, context=context)
                elif raw_args:
                    problems.append(
                        RoutineError("this task takes no args", field="args", **task_where)
                    )
                    continue
            except VariableError as exc:
                problems.append(RoutineError(str(exc), field="args", **task_where))
                continue
            except ValidationError as exc:
                problems += [
                    RoutineError(msg, field=f, **task_where)
                    for f, msg in _pydantic_problems(exc, "args")
                ]
                continue
            secrets |= substituter.secrets
            step_id = next_step_id(seen, instance, name)
            repeat = step_id.partition("#")[2]
            state_key = digest(
                executor_name,
                params_json,
                name,
                args.model_dump(mode="json") if args is not None else None,
            )
            task_steps.append(
                TaskStep(
                    name,
                    definition,
                    args,
                    entry_model.retries,
                    entry_model.retry_delay_s,
                    entry_model.timeout_s,
                    f"{state_key}#{repeat}" if repeat else state_key,
                    step_id,
                    step_count,
                )
            )
            step_count += 1
        if params is not None:
            secrets |= _secret_values(params)
            steps.append(ExecutorStep(instance, executor_name, cls, params, task_steps))

    if problems:
        raise _combine(problems, file_label)
    return Routine(
        name=spec.routine_name,
        path=path,
        base_dir=base_dir,
        state_dir=state_dir,
        run_id=run_id,
        run_date=day,
        variables=resolved,
        steps=steps,
        secrets=secrets,
    )


_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")


def _check_run_id(run_id: str, file_label: str | None) -> None:
    """A run id lands in file names and state keys: letters, digits, ``._+-`` only."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise RoutineError(
            f"run_id {run_id!r}: use 1 to 200 letters, digits, '.', '_', '+' or '-', "
            "starting with a letter or digit",
            file=file_label,
        )


def _run_date(
    value: str | dt.date | None, now: dt.datetime, file_label: str | None
) -> tuple[str, str]:
    """``${run_date}`` and ``${run_ts}``: from ``value`` if given, else from now (UTC)."""
    if value is None:
        return f"{now:%Y-%m-%d}", f"{now:%Y-%m-%dT%H:%M:%SZ}"
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.timezone.utc) if value.tzinfo else value
        return f"{moment:%Y-%m-%d}", f"{moment:%Y-%m-%dT%H:%M:%SZ}"
    if isinstance(value, dt.date):
        return value.isoformat(), f"{value.isoformat()}T00:00:00Z"
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        raise RoutineError(
            f"run_date {value!r}: expected a date as YYYY-MM-DD", file=file_label
        ) from None
    return day.isoformat(), f"{day.isoformat()}T00:00:00Z"


def _secret_values(model: BaseModel) -> set[str]:
    """Values of SecretStr fields, so they can be masked wherever else they turn up."""
    from pydantic import SecretStr

    found: set[str] = set()
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        if isinstance(value, SecretStr):
            found.add(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found |= _secret_values(value)
    return found


def _combine(problems: list[RoutineError], file_label: str | None) -> RoutineError:
    if len(problems) == 1:
        return problems[0]
    return RoutineError(f"{len(problems)} problems", file=file_label, problems=problems)


def select_steps(routine: Routine, only: list[str] | None) -> list[ExecutorStep]:
    """The steps (and tasks) that ``--only EXECUTOR[.TASK]`` selects, in file order."""
    if not only:
        return routine.steps
    wanted: dict[str, set[str] | None] = {}
    instances = {step.instance: step for step in routine.steps}
    for item in only:
        instance, _, task_name = item.partition(".")
        if instance not in instances:
            hint = did_you_mean(instance, instances)
            raise RoutineError(
                f"--only {item}: no executor {instance!r} in the routine{hint}",
                file=routine.label if routine.path else None,
            )
        if not task_name:
            wanted[instance] = None
            continue
        if task_name not in {t.name for t in instances[instance].tasks}:
            raise RoutineError(
                f"--only {item}: the routine does not run task {task_name!r} on {instance!r}",
                file=routine.label if routine.path else None,
            )
        if wanted.get(instance, set()) is not None:
            wanted.setdefault(instance, set()).add(task_name)  # type: ignore[union-attr]
    selected = []
    for step in routine.steps:
        if step.instance not in wanted:
            continue
        names = wanted[step.instance]
        tasks = step.tasks if names is None else [t for t in step.tasks if t.name in names]
        selected.append(
            ExecutorStep(step.instance, step.executor_name, step.cls, step.params, tasks)
        )
    return selected
