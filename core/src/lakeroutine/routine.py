"""Routine files: reading them, their format as models, and validating them whole.

The notebook's format is valid verbatim::

    {"routine_name": "x",
     "executors": {"StagingExecutor": {"params": {...}, "tasks": ["transfer"]}}}

plus an instance key with an explicit ``"executor"``, tasks as objects
(``{"task", "args", "retries", "retry_delay_s", "timeout_s"}``), ``"vars"`` and
``"state"`` (a state store URL) or ``"state_dir"``. :func:`validate_routine` checks
everything before anything runs and raises one :class:`RoutineError` listing every problem.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from lakeroutine.context import digest_of_json, json_text
from lakeroutine.errors import RoutineError, did_you_mean
from lakeroutine.executor import Executor, TaskDef
from lakeroutine.redact import remember
from lakeroutine.state.base import StateError
from lakeroutine.state.registry import DEFAULT_DIR, state_url
from lakeroutine.step_ids import next_step_id, task_digest
from lakeroutine.storage.registry import scheme_of
from lakeroutine.variables import Substituter, VariableError, resolve_variables

if TYPE_CHECKING:
    from lakeroutine.plugins import Registry


# Which distribution provides an executor that is not installed (as storages say).
KNOWN_EXECUTORS = {
    "AthenaExecutor": "lakeroutine-athena",
    "DuckDBExecutor": "lakeroutine-duckdb",
    "GlueExecutor": "lakeroutine-glue",
    "RedshiftExecutor": "lakeroutine-redshift",
}

MAX_RETRIES = 100
MAX_RETRY_DELAY_S = 24 * 3600.0
MAX_TIMEOUT_S = 7 * 24 * 3600.0


class TaskEntry(BaseModel):
    """A task given as an object: its name, args and how to retry or time it out."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use

    task: str = Field(description="Name of a task of this executor")
    args: dict[str, Any] = Field(default_factory=dict, description="The task's arguments")
    retries: int = Field(0, ge=0, le=MAX_RETRIES, description="Attempts after the first fails")
    retry_delay_s: float = Field(
        0.0, ge=0, le=MAX_RETRY_DELAY_S, description="Seconds between attempts (at most a day)"
    )
    timeout_s: float | None = Field(
        None, gt=0, le=MAX_TIMEOUT_S, description="Fail the task after this long (at most a week)"
    )


def _task_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "task name"
    return "task object" if isinstance(value, (dict, TaskEntry)) else None


TaskItem = Annotated[
    Annotated[str, Tag("task name")] | Annotated[TaskEntry, Tag("task object")],
    Discriminator(
        _task_kind,
        custom_error_type="task_item",
        custom_error_message='a task is a name or an object {"task": NAME, ...}',
    ),
]
"""A task: its name, or an object (one error per mistake, not one per union branch)."""


class ExecutorBlock(BaseModel):
    """One executor of the routine: which one, its params and its tasks in order."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    executor: str | None = Field(
        None, description="Registered executor name; defaults to the block's key"
    )
    description: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    tasks: list[TaskItem] = Field(default_factory=list)


class RoutineFile(BaseModel):
    """The top level of a routine file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    schema_: str | None = Field(None, alias="$schema")
    routine_name: str = Field(min_length=1)
    description: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    state: str | None = Field(
        None, description="State store URL (a local folder, s3://bucket/prefix/...)"
    )
    state_dir: str | None = Field(
        None, description="Where run state is kept (default .lakeroutine/state beside the file)"
    )
    executors: dict[str, ExecutorBlock]


# Plain classes, not dataclasses: a dataclass compiles its methods when its module is
# imported (0.5 to 1 ms each), which a scheduler's first parse of a routine pays.


class TaskStep:
    """A validated task, ready to run."""

    def __init__(
        self,
        name: str,
        definition: TaskDef,
        args: BaseModel | None,
        retries: int = 0,
        retry_delay_s: float = 0.0,
        timeout_s: float | None = None,
        state_key: str = "",
        step_id: str = "",
        position: int = 0,
        digest: str = "",
        args_dump: Any = None,
    ) -> None:
        self.name = name
        self.definition = definition
        self.args = args
        self.retries = retries
        self.retry_delay_s = retry_delay_s
        self.timeout_s = timeout_s
        self.state_key = state_key
        self.step_id = step_id
        self.position = position
        self.digest = digest  # the task as written (lakeroutine.step_ids.task_digest)
        self.args_dump = args_dump  # args as JSON values, dumped once for the state key

    def __repr__(self) -> str:
        return f"TaskStep({self.step_id or self.name!r})"


class ExecutorStep:
    """A validated executor block: the class, its params and its tasks."""

    def __init__(
        self,
        instance: str,
        executor_name: str,
        cls: type[Executor],
        params: BaseModel,
        tasks: list[TaskStep],
        params_dump: Any = None,
    ) -> None:
        self.instance = instance
        self.executor_name = executor_name
        self.cls = cls
        self.params = params
        self.tasks = tasks
        self.params_dump = params_dump  # params as JSON values, dumped once for state keys

    def __repr__(self) -> str:
        return f"ExecutorStep({self.instance!r}, {len(self.tasks)} tasks)"


class Routine:
    """A whole validated routine."""

    def __init__(
        self,
        name: str,
        path: Path | None,
        base_dir: Path,
        state_dir: Path,
        run_id: str,
        run_date: str,
        variables: dict[str, Any],
        steps: list[ExecutorStep],
        secrets: set[str] | None = None,
        state_url: str = "",
    ) -> None:
        self.name = name
        self.path = path
        self.base_dir = base_dir
        self.state_dir = state_dir
        self.run_id = run_id
        self.run_date = run_date
        self.variables = variables
        self.steps = steps
        self.secrets = set() if secrets is None else secrets
        self.state_url = state_url

    def __repr__(self) -> str:
        return f"Routine({self.name!r})"

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
                "YAML routines need PyYAML: pip install pyyaml (the core's extra 'yaml')",
                file=str(path),
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RoutineError(f"malformed YAML: {exc}", file=str(path)) from None
        except RecursionError:
            raise RoutineError(_TOO_DEEP, file=str(path)) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RoutineError(
                f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                file=str(path),
            ) from None
        except RecursionError:
            raise RoutineError(_TOO_DEEP, file=str(path)) from None
    return _routine_object(data, path)


def _routine_object(data: Any, path: Path) -> dict[str, Any]:
    """The file's content, once it is an object (a routine is one)."""
    if not isinstance(data, dict):
        raise RoutineError(
            f"a routine must be a JSON object, not {type(data).__name__}", file=str(path)
        )
    return data


MAX_DEPTH = 64
_TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


def check_depth(data: Any, file: str | None = None) -> None:
    """Refuse values nested deeper than MAX_DEPTH (no routine needs it; deeper would
    exhaust recursion later), without recursing."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, (dict, list, tuple)):
            if depth > MAX_DEPTH:
                raise RoutineError(_TOO_DEEP, file=file)
            stack.extend((child, depth + 1) for child in children)


_UNION_TAGS = {"task name", "task object"}  # tags of TaskItem's branches: never field names


def _pydantic_problems(
    exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None
) -> list[tuple[str, str]]:
    """(field, message) pairs of a validation error in the routine's terms (``tasks[1]``,
    ``unknown field 'retires'``), without the input values (which may be secrets)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [p for p in error["loc"] if not (isinstance(p, str) and p in _UNION_TAGS)]
        message = error["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if error["type"] == "extra_forbidden" and loc:
            name = str(loc.pop())
            known = _known_fields(model, loc) if model is not None else []
            message = f"unknown field {name!r}{did_you_mean(name, known)}"
        fieldname = _field_name(loc)
        if prefix:
            fieldname = f"{prefix}.{fieldname}" if fieldname else prefix
        problems.append((fieldname, message))
    return problems


def _field_name(loc: list[Any]) -> str:
    """``tasks[1].args``: list positions in brackets, as the routine file shows them."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _known_fields(model: type[BaseModel], loc: list[Any]) -> list[str]:
    """The fields of the (nested) model at ``loc``, for a did-you-mean hint. A part that
    is not a field (a list position, a dict key) is stepped over."""
    import typing

    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            continue
        queue, found = [field.annotation], None
        while queue and found is None:
            kind = queue.pop(0)
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found = kind
            queue += typing.get_args(kind)
        if found is None:
            return []
        model = found
    return [f.alias or name for name, f in model.model_fields.items()]


def validate_routine(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    registry: Registry,
    variables: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    run_id: str | None = None,
    state: str | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    run_date: str | dt.date | None = None,
    content: Any = None,
) -> Routine:
    """Check a routine (a file path or an already-parsed dict) whole and build it.

    ``state`` (``--state``) overrides the routine's state store URL. ``content``: the file
    ``source`` names, already read and parsed (a scheduler's parse validates exactly the
    bytes it keys its cache on): validated as given, the file not read again.

    Every executor must be registered, every param and task arg valid, every task known and
    public. Raises :class:`RoutineError` listing every problem; touches nothing: no
    preflight, no network, and only the executor modules the routine names are imported.
    Relative paths resolve against the file's folder; for a dict, against ``base_dir``
    (default: the working folder). ``run_id`` and ``run_date`` (a ``YYYY-MM-DD`` string, a
    date, or a datetime, which also sets ``${run_ts}``) replace the generated ones, so a
    scheduler can run a routine's steps as separate processes of one run (see
    :mod:`lakeroutine.steps`).
    """
    env = os.environ if env is None else env
    path: Path | None = None
    if isinstance(source, Mapping):
        data = dict(source)
        base_dir = Path(base_dir).resolve() if base_dir is not None else Path.cwd()
    else:
        path = Path(source).resolve()
        data = read_routine_file(path) if content is None else _routine_object(content, path)
        base_dir = path.parent
    file_label = str(path) if path else None
    check_depth(data, file_label)

    try:
        spec = RoutineFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            _file_problem(f, msg, file_label)
            for f, msg in _pydantic_problems(exc, model=RoutineFile)
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

    state_field = "state_dir" if spec.state_dir and not spec.state else "state"
    try:
        url = state_url(
            base_dir=base_dir,
            routine_state=_text(substituter, spec.state),
            routine_state_dir=_text(substituter, spec.state_dir),
            override=state,
            env=env,
        )
        registry.state_stores().check(url)
        registry.state_stores().open(url, spec.routine_name).close()  # its options, no I/O
    except (VariableError, ValueError, StateError) as exc:
        raise RoutineError(str(exc), file=file_label, field=state_field) from None
    state_dir = Path(url) if scheme_of(url) == "file" else base_dir / DEFAULT_DIR

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
            registered = ", ".join(sorted(registry.executors))
            if executor_name in KNOWN_EXECUTORS:
                from lakeroutine.install import install_hint

                message = (
                    f"{executor_name} is not installed: "
                    f"{install_hint(KNOWN_EXECUTORS[executor_name])}"
                )
            else:
                hint = did_you_mean(executor_name, registry.executors)
                message = f"unknown executor {executor_name!r}{hint}; registered: {registered}"
            problems.append(
                RoutineError(
                    message,
                    field="executor" if block.executor else None,
                    **where,
                )
            )
            continue
        cls = entry.cls
        context = {
            "base_dir": base_dir,
            "storages": storages,
            "env": env,
            "variables": resolved,
            "state_url": url,  # executors keep their locations apart from the state's
            "state_field": state_field,
        }
        params: BaseModel | None = None
        try:
            raw_params = substituter.substitute(block.params)
            params = cls.Params.model_validate(raw_params, context=context)
        except VariableError as exc:
            problems.append(RoutineError(str(exc), field="params", **where))
        except ValidationError as exc:
            problems += [
                RoutineError(msg, field=f, **where)
                for f, msg in _pydantic_problems(exc, "params", cls.Params)
            ]
        secrets |= substituter.secrets

        # each task's state key: digest(executor_name, params, task, args), the block's
        # part written once, each distinct (task, args) digested once
        params_dump = params.model_dump(mode="json") if params is not None else None
        head = json_text(executor_name) + ", " + json_text(params_dump)
        state_keys: dict[tuple[str, str], str] = {}
        named: dict[str, TaskEntry] = {}  # a task given by name, its defaults
        tasks = registry.tasks_of(executor_name)
        task_steps: list[TaskStep] = []
        for position, item in enumerate(block.tasks):
            if isinstance(item, TaskEntry):
                entry_model = item
            else:
                entry_model = named.get(item) or named.setdefault(item, TaskEntry(task=item))
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
                raw_args = substituter.substitute(entry_model.args) if entry_model.args else {}
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
                    for f, msg in _pydantic_problems(exc, "args", definition.args_model)
                ]
                continue
            secrets |= substituter.secrets
            step_id = next_step_id(seen, instance, name)
            repeat = step_id.partition("#")[2]
            args_dump = args.model_dump(mode="json") if args is not None else None
            args_text = json_text(args_dump)
            state_key = state_keys.get((name, args_text)) or state_keys.setdefault(
                (name, args_text), digest_of_json(f"[{head}, {json_text(name)}, {args_text}]")
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
                    task_digest(executor_name, name, entry_model.args),
                    args_dump,
                )
            )
            step_count += 1
        if params is not None:
            secrets |= _secret_values(params)
            steps.append(
                ExecutorStep(instance, executor_name, cls, params, task_steps, params_dump)
            )

    remember(secrets)
    if problems:
        raise _combine(problems, file_label)
    return Routine(
        name=spec.routine_name,
        path=path,
        base_dir=base_dir,
        state_dir=state_dir,
        state_url=url,
        run_id=run_id,
        run_date=day,
        variables=resolved,
        steps=steps,
        secrets=secrets,
    )


def _text(substituter: Substituter, value: str | None) -> str | None:
    return None if value is None else str(substituter.substitute(value))


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


def _file_problem(fieldname: str, message: str, file_label: str | None) -> RoutineError:
    """A problem in the file's structure, located in an executor block when it is in one."""
    head, _, rest = fieldname.partition(".")
    if head == "executors" and rest:
        instance, _, inner = rest.partition(".")
        if "[" in instance:  # executors.X.tasks[1] splits as X.tasks[1] on the dot
            instance, _, _ = instance.partition("[")
        return RoutineError(message, file=file_label, executor=instance, field=inner or None)
    return RoutineError(message, file=file_label, field=fieldname or None)


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
