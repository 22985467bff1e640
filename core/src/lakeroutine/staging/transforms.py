"""Transformations a staging block runs between landing and staging.

Two kinds, both given by ``py_exec_path``:

- the notebook's contract: a folder holding ``py_exec.py`` with ``test()`` and
  ``main(parent, dump, **py_exec_args)``. It gets local working folders (a copy of the
  files to stage, and an empty output folder) whatever the landing and staging storages.
- a per-file function, ``module:function`` or ``path/to/file.py:function``, called as
  ``function(source, target, **py_exec_args)`` with local paths: it reads ``source`` and
  writes ``target`` (or any files in ``target.parent``; writing nothing skips the file).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from lakeroutine.staging.source_check import check_defined, find_module_file

NOTEBOOK_MODULE = "py_exec.py"


@dataclass(frozen=True)
class TransformRef:
    """A parsed ``py_exec_path``: a notebook folder, or a file/module and a function."""

    kind: str  # "notebook" | "file" | "module"
    target: str  # the folder, the .py file or the module name
    function: str | None = None

    @property
    def per_file(self) -> bool:
        return self.kind != "notebook"


def names_a_function(value: str) -> bool:
    """Whether ``py_exec_path`` names a per-file function (``module:function`` or
    ``file.py:function``) rather than a notebook folder (``C:`` is a drive, not a module)."""
    head, sep, function = value.rpartition(":")
    return bool(sep and function.isidentifier() and head) and not (
        len(head) == 1 and head.isalpha()
    )


def parse_transform(value: str, base_dir: Path) -> TransformRef:
    """Parse and check ``py_exec_path`` without running any user code: a module or file is
    found and parsed (never imported), and the function must be defined in it."""
    head, _, function = value.rpartition(":")
    if names_a_function(value):
        if head.endswith(".py") or "/" in head or os.sep in head:
            path = Path(os.path.normpath(base_dir / Path(head).expanduser()))
            if not path.is_file():
                raise ValueError(f"transformation file {path} does not exist")
            check_defined(str(path), function, label=str(path))
            return TransformRef("file", str(path), function)
        if not all(part.isidentifier() for part in head.split(".")):
            raise ValueError(f"{head!r} is not a module name")
        origin = find_module_file(head)
        if origin is not None:
            check_defined(origin, function, label=head)
        return TransformRef("module", head, function)
    folder = Path(os.path.normpath(base_dir / Path(value).expanduser()))
    if not folder.is_dir():
        raise ValueError(f"transformation folder {folder} does not exist")
    if not (folder / NOTEBOOK_MODULE).is_file():
        raise ValueError(f"transformation folder {folder} has no {NOTEBOOK_MODULE}")
    return TransformRef("notebook", str(folder))


@contextmanager
def _on_path(folder: str):  # type: ignore[no-untyped-def]
    """Let a user's script import its sibling modules while it loads and runs."""
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        with suppress(ValueError):
            sys.path.remove(folder)


def _load_file(path: str) -> ModuleType:
    tag = hashlib.sha256(path.encode()).hexdigest()[:16]  # one module per file path
    name = f"lakeroutine_transform_{Path(path).stem}_{tag}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    with _on_path(str(Path(path).parent)):
        spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


def load_function(ref: TransformRef) -> Callable[..., Any]:
    """The per-file function a ``module:function`` or ``file.py:function`` names."""
    module = importlib.import_module(ref.target) if ref.kind == "module" else _load_file(ref.target)
    function = getattr(module, ref.function or "", None)
    if not callable(function):
        raise AttributeError(f"{ref.target} has no function {ref.function!r}")
    return function


def run_notebook(ref: TransformRef, parent: str, dump: str, args: dict[str, Any]) -> None:
    """Run a notebook-contract script: ``test()``, then ``main(parent, dump, **args)``.

    ``main`` is called also when there are no args (the notebook skipped it then)."""
    module = _load_file(os.path.join(ref.target, NOTEBOOK_MODULE))
    main = getattr(module, "main", None)
    if not callable(main):
        raise AttributeError(f"{ref.target}/{NOTEBOOK_MODULE} has no main(parent, dump, ...)")
    with _on_path(ref.target):
        test = getattr(module, "test", None)
        if callable(test):
            test()
        main(parent, dump, **args)
