"""A routine run under another login, for the storage kit's unreadable-file case when the
tests run as root (root reads every file: only a run under an unprivileged login is refused
one). ``python -m lakeroutine.testing.conformance.login ROUTINE REPORT [FILE::NAME ...]``
runs the routine with the installed plugins and those named (a plugin class or module in a
test file, registered in code as the kit's ``plugins`` are) and writes its result as JSON
to REPORT; :func:`run_as` starts it under ``setpriv``."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

NOBODY = (65534, 65534)  # uid and gid of ``nobody``: owns nothing the tests need kept


def give_to(folder: Path, login: tuple[int, int]) -> None:
    """Make ``login`` the owner of ``folder`` and everything below it (links themselves)."""
    for top, dirs, files in os.walk(folder):
        for name in [*dirs, *files, ""]:
            os.chown(os.path.join(top, name), *login, follow_symlinks=False)


def plugin_ref(plugin: Any) -> str:
    """``FILE::NAME``: where a plugin registered in code is found again in a new process
    (a module, or an instance of a class built without arguments)."""
    if isinstance(plugin, ModuleType):
        return f"{plugin.__file__}::"
    kind = type(plugin)
    return f"{sys.modules[kind.__module__].__file__}::{kind.__qualname__}"


def _load(ref: str) -> Any:
    """The plugin a :func:`plugin_ref` names."""
    path, _, name = ref.partition("::")
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not name:
        return module
    found: Any = module
    for part in name.split("."):
        found = getattr(found, part)
    return found()


def run_as(
    login: tuple[int, int],
    write_routine: Callable[[Path], Path],
    plugins: Sequence[Any] = (),
    timeout: float = 300,
) -> Any:
    """Run the routine ``write_routine(folder)`` writes (its state in that folder, owned by
    ``login``) as ``login``; its result, as attributes (``status``, ``tasks[n].output``)."""
    uid, gid = login
    folder = Path(tempfile.mkdtemp(prefix="lakeroutine-kit-login-"))
    try:
        routine = write_routine(folder)
        give_to(folder, login)
        report = folder / "report.json"
        command = [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={gid}",
            "--clear-groups",
            sys.executable,
            "-m",
            __name__,
            str(routine),
            str(report),
            *map(plugin_ref, plugins),
        ]
        env = {**os.environ, "HOME": str(folder), "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=folder, timeout=timeout
        )
        assert done.returncode == 0, done.stderr
        result = json.loads(report.read_text())
        tasks = [SimpleNamespace(**task) for task in result.pop("tasks")]
        return SimpleNamespace(**result, tasks=tasks)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: Sequence[str]) -> int:
    from lakeroutine.orchestrator import run_routine
    from lakeroutine.plugins import load_plugins

    routine, report, *refs = argv
    registry = load_plugins(plugins=[_load(ref) for ref in refs])
    result = run_routine(Path(routine), registry=registry)
    Path(report).write_text(json.dumps(result.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
