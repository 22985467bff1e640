"""Loading plugins into a fresh pluggy manager and collecting what they register.

Plugins come from the ``lakeroutine`` entry point group; the built-in ones (the local
storage and the StagingExecutor) are registered the same way from ``DEFAULT_PLUGINS``.
Nothing loads at import time: :func:`load_plugins` builds a new :class:`Registry`.

Environment:
- ``LAKEROUTINE_DISABLE_PLUGINS=a,b``: do not load these entry-point plugins.
- ``LAKEROUTINE_PLUGINS=a,b``: load only these entry-point plugins (empty: none).
- ``LAKEROUTINE_TRACE_HOOKS=1``: log every hook call and its result to stderr.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy
from pydantic import BaseModel

from lakeroutine import hookspecs
from lakeroutine.entry_points import name_and_version
from lakeroutine.entry_points import scan as entry_points_scan
from lakeroutine.errors import PluginError
from lakeroutine.executor import Executor, TaskDef, make_task_def
from lakeroutine.state.registry import StateStoreEntry, StateStores
from lakeroutine.storage.registry import StorageEntry, StorageRegistry

ENTRY_POINT_GROUP = "lakeroutine"
DEFAULT_PLUGINS = ("lakeroutine.builtin",)
CORE_DISTRIBUTION = "lakeroutine"


class PluginInfo:
    """A loaded plugin and the distribution it came from (a plain class: a dataclass
    compiles its methods at import, which every parse pays)."""

    __slots__ = ("distribution", "hooks", "name", "version")

    def __init__(
        self, name: str, distribution: str, version: str, hooks: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.distribution = distribution
        self.version = version
        self.hooks = hooks

    def __repr__(self) -> str:
        return f"PluginInfo({self.name!r}, {self.distribution!r}, {self.version!r})"

    @property
    def label(self) -> str:
        return f"plugin {self.name!r} (distribution {self.distribution} {self.version})"


class ExecutorEntry:
    """A registered executor: its class, or where to import it from on first use
    (``"module:Class"``), so loading a routine imports only the executors it names."""

    def __init__(self, target: type[Executor] | str, plugin: PluginInfo, name: str) -> None:
        self.target = target
        self.plugin = plugin
        self.name = name
        self._cls: type[Executor] | None = target if isinstance(target, type) else None

    @property
    def cls(self) -> type[Executor]:
        """The executor class (imported now if it was registered by its path)."""
        if self._cls is None:
            self._cls = _import_executor(str(self.target), self.name, self.plugin)
        return self._cls


def _import_executor(target: str, name: str, info: PluginInfo) -> type[Executor]:
    module_name, _, attribute = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attribute)
    except Exception as exc:
        raise PluginError(
            f"{info.label}: executor {name!r} ({target}) failed to import: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    _check_executor_class(cls, info)
    if cls.name != name:
        raise PluginError(
            f"{info.label} registered {target} as executor {name!r}, but its name is {cls.name!r}"
        )
    return cls


class Registry:
    """What the loaded plugins registered: executors, extra tasks, storages, state stores
    (a plain class: a dataclass would compile its methods at import, in every parse)."""

    def __init__(self, manager: pluggy.PluginManager, tracing: bool = False) -> None:
        self.manager = manager
        self.plugins: dict[str, PluginInfo] = {}
        self.executors: dict[str, ExecutorEntry] = {}
        self.extra_tasks: dict[str, dict[str, tuple[TaskDef, PluginInfo]]] = {}
        self.storage_entries: dict[str, StorageEntry] = {}
        self.state_entries: dict[str, StateStoreEntry] = {}
        self.tracing = tracing  # LAKEROUTINE_TRACE_HOOKS: every hook call traced, even to none

    @property
    def hook(self) -> Any:
        return self.manager.hook

    def storages(self) -> StorageRegistry:
        return StorageRegistry(self.storage_entries)

    def state_stores(self) -> StateStores:
        return StateStores(self.state_entries)

    def tasks_of(self, executor_name: str) -> dict[str, TaskDef]:
        """The executor's own tasks plus those other plugins added to it."""
        tasks = dict(self.executors[executor_name].cls.tasks)
        for name, (task_def, plugin) in self.extra_tasks.get(executor_name, {}).items():
            if name in tasks:  # checked here when the executor was registered by its path
                raise PluginError(_task_clash(plugin, executor_name, name, "the executor itself"))
            tasks[name] = task_def
        return tasks


def _names_from_env(variable: str, env: Mapping[str, str]) -> set[str] | None:
    if variable not in env:
        return None
    return {part.strip() for part in env[variable].split(",") if part.strip()}


def load_plugins(
    *,
    entry_points: bool = True,
    plugins: Iterable[ModuleType | object] = (),
    env: Mapping[str, str] | None = None,
) -> Registry:
    """Build a fresh plugin manager with the built-ins, the installed entry-point plugins
    (unless ``entry_points=False``) and ``plugins`` (objects or modules, for tests)."""
    env = os.environ if env is None else env
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    tracing = env.get("LAKEROUTINE_TRACE_HOOKS", "").lower() not in ("", "0", "false", "no")
    if tracing:
        manager.trace.root.setwriter(sys.stderr.write)
        manager.enable_tracing()
    registry = Registry(manager, tracing=tracing)
    found = entry_points_scan((ENTRY_POINT_GROUP,)) if entry_points else None
    core_version = (
        found.version_of(CORE_DISTRIBUTION, "lakeroutine", "lakeroutine.cli:main")
        if found
        else _version(CORE_DISTRIBUTION)
    )

    for module_name in DEFAULT_PLUGINS:
        info = PluginInfo(module_name, CORE_DISTRIBUTION, core_version)
        _register(registry, importlib.import_module(module_name), info)

    if found is not None:
        blocked = _names_from_env("LAKEROUTINE_DISABLE_PLUGINS", env) or set()
        allowed = _names_from_env("LAKEROUTINE_PLUGINS", env)
        for ep in found.group(ENTRY_POINT_GROUP):
            if ep.name in blocked or (allowed is not None and ep.name not in allowed):
                continue
            dist = getattr(ep, "dist", None)
            info = PluginInfo(ep.name, *(name_and_version(dist) if dist else ("unknown",) * 2))
            if ep.name in registry.plugins:
                other = registry.plugins[ep.name]
                raise PluginError(f"{info.label}: the name is already taken by {other.label}")
            try:
                module = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"{info.label} failed to import {ep.value!r}: {type(exc).__name__}: {exc}"
                ) from exc
            _register(registry, module, info)

    for index, plugin in enumerate(plugins):
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{index}"
        _register(registry, plugin, PluginInfo(name, "(registered in code)", ""))

    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(_validation_message(registry, exc)) from exc
    _collect(registry)
    return registry


def _register(registry: Registry, plugin: Any, info: PluginInfo) -> None:
    try:
        registry.manager.register(plugin, name=info.name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{info.label}: {exc}") from exc
    except ValueError as exc:  # pluggy: plugin name or object already registered
        raise PluginError(f"{info.label}: {exc}") from exc
    hooks = tuple(sorted(caller.name for caller in registry.manager.get_hookcallers(plugin) or []))
    registry.plugins[info.name] = PluginInfo(info.name, info.distribution, info.version, hooks)


def _validation_message(registry: Registry, exc: pluggy.PluginValidationError) -> str:
    plugin_name = registry.manager.get_name(exc.plugin) or repr(exc.plugin)
    info = registry.plugins.get(plugin_name)
    label = info.label if info else f"plugin {plugin_name!r}"
    return f"{label}: {exc} (is the hook name misspelt? see lakeroutine.hookspecs)"


def _calls(registry: Registry, hook_name: str) -> Iterable[tuple[Callable[..., Any], PluginInfo]]:
    """Each implementation of a registration hook with the plugin it belongs to, wrapped so
    that the call is traced (``LAKEROUTINE_TRACE_HOOKS``) and an exception names the plugin."""
    caller = getattr(registry.manager.hook, hook_name)
    trace = registry.manager.trace.root.get("hook")
    for impl in caller.get_hookimpls():
        info = registry.plugins.get(impl.plugin_name) or PluginInfo(impl.plugin_name, "?", "?")
        yield _guarded(impl.function, impl.argnames, hook_name, info, trace), info


def _guarded(
    function: Callable[..., Any],
    argnames: tuple[str, ...],
    hook_name: str,
    info: PluginInfo,
    trace: Callable[..., None],
) -> Callable[..., None]:
    def call(**kwargs: Any) -> None:
        trace(hook_name, {"plugin": info.name, **kwargs})
        try:
            function(**{name: kwargs[name] for name in argnames})
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(
                f"{info.label}: {hook_name} failed: {type(exc).__name__}: {exc}"
            ) from exc
        trace("finish", hook_name, {"plugin": info.name})

    return call


def _collect(registry: Registry) -> None:
    for function, info in _calls(registry, "register_executors"):
        function(
            register=lambda target, name=None, _info=info: _add_executor(
                registry, target, _info, name
            )
        )
    for function, info in _calls(registry, "register_storages"):
        function(
            register=lambda scheme, factory, _info=info: _add_storage(
                registry, scheme, factory, _info
            )
        )
    for function, info in _calls(registry, "register_state_stores"):
        function(
            register=lambda scheme, factory, _info=info: _add_state_store(
                registry, scheme, factory, _info
            )
        )
    for function, info in _calls(registry, "register_tasks"):

        def register_task(
            executor_name: str,
            task_name: str,
            func: Callable[..., Any],
            args_model: type[BaseModel] | str | None = None,
            _info: PluginInfo = info,
        ) -> None:
            _add_task(registry, executor_name, task_name, func, args_model, _info)

        function(register=register_task)


def _check_executor_class(cls: Any, info: PluginInfo) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Executor)):
        raise PluginError(f"{info.label} registered {cls!r}, which is not an Executor subclass")
    if not (isinstance(cls.Params, type) and issubclass(cls.Params, BaseModel)):
        raise PluginError(f"{info.label}: {cls.__name__}.Params must be a pydantic model")


def _add_executor(
    registry: Registry, target: Any, info: PluginInfo, name: str | None = None
) -> None:
    if isinstance(target, str):
        module_name, colon, attribute = target.partition(":")
        if not (colon and module_name and attribute.isidentifier() and name):
            raise PluginError(
                f"{info.label} registered executor {target!r}: give a class, or "
                "register('module:Class', name='ExecutorName')"
            )
    else:
        _check_executor_class(target, info)
        if name is not None and name != target.name:
            raise PluginError(f"{info.label} registered {target.name!r} under name {name!r}")
        name = target.name
    existing = registry.executors.get(name)
    if existing is not None and existing.target is not target:
        raise PluginError(
            f"{info.label} registers executor {name!r}, already registered by "
            f"{existing.plugin.label}"
        )
    registry.executors[name] = ExecutorEntry(target, info, name)


def _add_storage(registry: Registry, scheme: Any, factory: Any, info: PluginInfo) -> None:
    scheme = _checked_scheme(registry.storage_entries, "storage", scheme, factory, info)
    registry.storage_entries[scheme] = StorageEntry(scheme, factory, info.name, info.distribution)


def _add_state_store(registry: Registry, scheme: Any, factory: Any, info: PluginInfo) -> None:
    scheme = _checked_scheme(registry.state_entries, "state store", scheme, factory, info)
    registry.state_entries[scheme] = StateStoreEntry(scheme, factory, info.name, info.distribution)


def _checked_scheme(
    entries: Mapping[str, StorageEntry | StateStoreEntry],
    kind: str,
    scheme: Any,
    factory: Any,
    info: PluginInfo,
) -> str:
    """The scheme, lower-cased, once it is a name with a callable factory that no other
    plugin registered for this ``kind``; else a PluginError naming both plugins."""
    if not isinstance(scheme, str) or not scheme.isidentifier():
        raise PluginError(f"{info.label} registered {kind} scheme {scheme!r}: not a name")
    if not callable(factory):
        raise PluginError(f"{info.label}: {kind} factory for {scheme!r} is not callable")
    scheme = scheme.lower()
    existing = entries.get(scheme)
    if existing is not None and existing.factory is not factory:
        raise PluginError(
            f"{info.label} registers {kind} {scheme}://, already registered by "
            f"plugin {existing.plugin!r} (distribution {existing.distribution})"
        )
    return scheme


def _add_task(
    registry: Registry,
    executor_name: str,
    task_name: str,
    func: Callable[..., Any],
    args_model: type[BaseModel] | str | None,
    info: PluginInfo,
) -> None:
    if executor_name not in registry.executors:
        raise PluginError(
            f"{info.label} adds task {task_name!r} to executor {executor_name!r}, "
            "which no plugin registered"
        )
    if not task_name.isidentifier() or task_name.startswith("_"):
        raise PluginError(f"{info.label}: task name {task_name!r} must be a public identifier")
    entry = registry.executors[executor_name]
    # An executor registered by its path is not imported for this check: tasks_of() makes it
    # when the executor is first used, so loading plugins imports no executor.
    own = entry.cls.tasks if isinstance(entry.target, type) else {}
    added = registry.extra_tasks.setdefault(executor_name, {})
    if task_name in own or task_name in added:
        owner = added[task_name][1].label if task_name in added else "the executor itself"
        raise PluginError(_task_clash(info, executor_name, task_name, owner))
    try:
        task_def = make_task_def(task_name, func, args_model)
    except TypeError as exc:
        raise PluginError(f"{info.label}: {exc}") from exc
    added[task_name] = (task_def, info)


def _task_clash(info: PluginInfo, executor_name: str, task_name: str, owner: str) -> str:
    return f"{info.label} adds task {executor_name}.{task_name}, already defined by {owner}"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
