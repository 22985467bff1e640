"""Checking a transformation's ``module:function`` or ``file.py:function`` without running it.

``validate`` and ``--dry-run`` execute no user code: the module's file is found the way the
import system would find it (a package's ``__init__`` is never run), parsed with ``ast``,
and the function must be bound at its top level. A module may declare what optional
packages a function needs, as a literal the parser reads::

    __lakeroutine_requires__ = {"to_parquet": {"pyarrow": "pip install pyarrow"}}
"""

from __future__ import annotations

import ast
import functools
import importlib.machinery
import importlib.util
import os
import sys
from typing import Any

from lakeroutine.errors import did_you_mean

REQUIRES = "__lakeroutine_requires__"


def find_module_file(name: str) -> str | None:
    """The source file of module ``name``, found without importing it or its parents.

    Raises ValueError naming the part that cannot be found; None when the module exists but
    has no Python source to read (an extension module, a namespace package)."""
    parts = name.split(".")
    spec = _top_level_spec(parts[0])
    for depth in range(1, len(parts)):
        fullname = ".".join(parts[: depth + 1])
        locations = spec.submodule_search_locations
        if locations is None:
            raise ValueError(
                f"transformation module {name!r} cannot be found: "
                f"{'.'.join(parts[:depth])!r} is a module, not a package"
            )
        spec = importlib.machinery.PathFinder.find_spec(fullname, list(locations))
        if spec is None:
            raise ValueError(f"transformation module {name!r} cannot be found (no {fullname})")
    origin = spec.origin
    if origin and origin.endswith(".py") and os.path.isfile(origin):
        return origin
    return None


def _top_level_spec(name: str) -> Any:
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None) if module is not None else None
    if spec is None:
        try:  # for a top-level name, find_spec only asks the finders: nothing runs
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
    if spec is None:
        raise ValueError(f"transformation module {name!r} cannot be found")
    return spec


def check_defined(path: str, function: str, *, label: str) -> None:
    """Raise ValueError unless ``function`` is bound at the top level of the Python file
    ``path`` and the optional packages it declares are installed."""
    names, open_ended, requires = _scan(path, *_version(path))
    if function not in names and not open_ended:
        hint = did_you_mean(function, [n for n in names if not n.startswith("_")])
        raise ValueError(f"transformation {label} has no function {function!r}{hint}")
    for package, how in (requires.get(function) or {}).items():
        if importlib.util.find_spec(package.split(".")[0]) is None:
            raise ValueError(f"transformation {label}:{function} needs {package}: {how}")


def _version(path: str) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=64)
def _scan(path: str, mtime_ns: int, size: int) -> tuple[frozenset[str], bool, dict[str, Any]]:
    """The names a file binds at top level, whether it may bind others we cannot see
    (``import *``, a module ``__getattr__``), and its declared requirements."""
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"transformation file {path} cannot be parsed: {exc}") from None
    names: set[str] = set()
    open_ended = False
    requires: dict[str, Any] = {}
    for node in _top_level(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    open_ended = True
                else:
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        names.add(leaf.id)
                        if leaf.id == REQUIRES and node.value is not None:
                            requires = _literal(node.value, path)
    if "__getattr__" in names:
        open_ended = True
    return frozenset(names), open_ended, requires


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements run at import, looking inside ``if``, ``try`` and ``with`` blocks."""
    found: list[ast.stmt] = []
    for node in body:
        found.append(node)
        if isinstance(node, ast.If):
            found += _top_level(node.body) + _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            inner = node.body + node.orelse + node.finalbody
            for handler in node.handlers:
                inner += handler.body
            found += _top_level(inner)
        elif isinstance(node, ast.With):
            found += _top_level(node.body)
    return found


def _literal(node: ast.expr, path: str) -> dict[str, Any]:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        raise ValueError(f"{path}: {REQUIRES} must be a literal dict") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {REQUIRES} must be a literal dict")
    return value
