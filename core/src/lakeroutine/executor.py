"""The base class of every executor, and the ``@task`` marker for its public tasks.

An executor is built once per routine block from its validated ``Params`` and runs the
block's tasks in order. Only methods marked ``@task`` can be called from a routine file:
nothing else on the class (no ``__init__``, no helper) is reachable from configuration.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from lakeroutine.context import RunContext

F = TypeVar("F", bound=Callable[..., Any])


class Params(BaseModel):
    """Base of executor params and task args: unknown keys are an error, not ignored.

    Built on first use (``defer_build``): a routine pays only for the models of the
    executors and tasks it names, not for every task an installed executor offers."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class NoParams(Params):
    """Params of an executor or args of a task that take none."""


class TaskDef:
    """One task an executor offers: its name, the function and the model of its args (a
    plain class: a dataclass compiles its methods at import, which every parse pays)."""

    def __init__(
        self,
        name: str,
        function: Callable[..., Any],
        args_ref: type[BaseModel] | str | None,
        wants_args: bool,
        wants_ctx: bool,
        doc: str = "",
    ) -> None:
        self.name = name
        self.function = function
        self.args_ref = args_ref
        self.wants_args = wants_args
        self.wants_ctx = wants_ctx
        self.doc = doc

    def __repr__(self) -> str:
        return f"TaskDef({self.name!r})"

    @functools.cached_property
    def args_model(self) -> type[BaseModel] | None:
        """The args model, imported on first use when given as ``"module:Class"``."""
        if not isinstance(self.args_ref, str):
            return self.args_ref
        from lakeroutine.errors import PluginError

        module, _, attribute = self.args_ref.partition(":")
        try:
            model = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"task {self.name!r}: cannot import its args model {self.args_ref!r}: {exc}"
            ) from None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise PluginError(
                f"task {self.name!r}: {self.args_ref!r} is not a pydantic model: {model!r}"
            )
        return model

    def call(self, executor: Executor, args: BaseModel | None, ctx: Any) -> Any:
        kwargs: dict[str, Any] = {}
        if self.wants_args:
            kwargs["args"] = args
        if self.wants_ctx:
            kwargs["ctx"] = ctx
        return self.function(executor, **kwargs)


def make_task_def(
    name: str, function: Callable[..., Any], args_model: type[BaseModel] | str | None = None
) -> TaskDef:
    """Describe ``function`` as a task: it may take ``args`` and/or ``ctx`` keywords.

    The args model is ``args_model`` (a model, or ``"module:Class"`` imported when the task
    is first used) or else the annotation of the ``args`` parameter.
    """
    if not callable(function):
        raise TypeError(f"task {name!r}: {function!r} is not callable")
    params = inspect.signature(function).parameters
    wants_args = "args" in params
    wants_ctx = "ctx" in params
    if wants_args and args_model is None:
        annotation = params["args"].annotation
        if isinstance(annotation, str):
            annotation = _resolve_args_annotation(name, function, annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            args_model = annotation
    if isinstance(args_model, str):
        module, colon, attribute = args_model.partition(":")
        if not (
            colon and attribute.isidentifier() and all(map(str.isidentifier, module.split(".")))
        ):
            raise TypeError(f"task {name!r}: args model {args_model!r} is not 'module:Class'")
    elif args_model is not None and not (
        isinstance(args_model, type) and issubclass(args_model, BaseModel)
    ):
        raise TypeError(f"task {name!r}: args model must be a pydantic model, not {args_model!r}")
    if args_model is not None and not wants_args:
        raise TypeError(f"task {name!r} declares an args model but takes no 'args' parameter")
    doc = inspect.getdoc(function) or ""
    return TaskDef(name, function, args_model, wants_args, wants_ctx, doc.split("\n\n")[0])


def _resolve_args_annotation(task_name: str, function: Callable[..., Any], annotation: str) -> Any:
    """The type a string annotation of ``args`` names (``from __future__ import annotations``).

    Other parameters may be annotated with names imported only for type checking, so when
    the hints cannot all be resolved, only ``args`` is looked up in the function's module.
    """
    import typing

    try:
        return typing.get_type_hints(function).get("args", inspect.Parameter.empty)
    except Exception:
        pass
    try:  # what get_type_hints does for one annotation: the module's own source text
        return eval(annotation, getattr(function, "__globals__", {}))
    except Exception as exc:
        raise TypeError(
            f"task {task_name!r}: cannot resolve the annotation of 'args' ({annotation!r}: "
            f"{exc}); import it at run time or pass the model: @task(args=Model)"
        ) from None


def task(
    function: F | None = None, *, args: type[BaseModel] | str | None = None, name: str | None = None
) -> Any:
    """Mark an executor method as a task a routine may call.

    The method may take ``args`` (validated against ``args=`` or its annotation; ``args=
    "module:Class"`` imports the model only when a routine uses the task) and
    ``ctx`` (a :class:`lakeroutine.context.TaskContext`); what it returns (JSON-able) is
    the task's output in the run report.
    """

    def mark(fn: F) -> F:
        fn.__lakeroutine_task__ = (name or fn.__name__, args)  # type: ignore[attr-defined]
        return fn

    return mark(function) if function is not None else mark


class Executor:
    """Base class of executors. Subclass it, set ``Params``, and mark tasks with ``@task``.

    ``name`` is the name routine files use (the class name by default).
    """

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = NoParams
    tasks: ClassVar[dict[str, TaskDef]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__
        found: dict[str, TaskDef] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                marker = getattr(value, "__lakeroutine_task__", None)
                if marker is None:
                    continue
                task_name, args_model = marker
                found[task_name] = make_task_def(task_name, value, args_model)
        cls.tasks = found

    def __init__(self, params: BaseModel, context: RunContext) -> None:
        self.params = params
        self.context = context

    @classmethod
    def needs_network(cls, params: BaseModel) -> bool:
        """Whether :meth:`preflight` reaches over the network (``--offline`` skips it then).
        By default: when a param is a URL other than ``file://`` (``s3://...``)."""
        return _has_url(params.model_dump(mode="json"))

    def preflight(self, tasks: list[str]) -> None:
        """Check, before any task of the routine runs, that the tasks can run (a bucket
        exists, a job is defined). Raise :class:`lakeroutine.RoutineError` if not."""

    def close(self) -> None:
        """Release what the executor holds (clients, connections) after its last task."""


def _has_url(value: Any) -> bool:
    if isinstance(value, str):
        head, sep, _ = value.partition("://")
        return bool(sep) and head.isidentifier() and len(head) > 1 and head.lower() != "file"
    if isinstance(value, dict):
        return any(_has_url(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_url(v) for v in value)
    return False
