"""A routine's name and steps for a scheduler's parse, validated once per exact input.

:func:`parse_steps` is what the Airflow and Dagster integrations call where a DAG processor
or code location reads a routine: on the first parse of an input it validates the routine
fully (:func:`lakeroutine.steps.load_routine`: an invalid routine raises
:class:`~lakeroutine.RoutineError` naming file, executor, task and field) and records in the
parse cache (:mod:`lakeroutine.parse_cache`) that this input is valid; on a later parse of
the same input it reads the steps from the file as written, with no plugin loaded and no
pydantic model built. Running a step validates the routine fully, as always.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeroutine.parse_cache import ParseCache
from lakeroutine.steps import StepInfo, decode_data, load_routine, steps_in, steps_of
from lakeroutine.validation_inputs import (
    RecordingEnv,
    file_signature,
    installed,
    local_paths,
    path_kind,
    start_recording_files,
    stop_recording_files,
)

if TYPE_CHECKING:
    from lakeroutine.routine import Routine

__all__ = ["parse_steps"]


def parse_steps(
    path: str | os.PathLike[str],
    vars: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> tuple[str, list[StepInfo]]:
    """The routine's ``routine_name`` and steps, validated (or known valid from the cache)."""
    file = Path(path).resolve()
    env = os.environ if env is None else env
    cache = ParseCache.open(env)
    try:
        raw = file.read_bytes() if cache is not None else None
        data = decode_data(file, raw) if raw is not None else None
    except Exception:  # unreadable or malformed: validation says what is wrong
        raw = None
    if cache is None or raw is None:
        routine = load_routine(file, vars=vars, env=env)
        return routine.name, steps_of(routine)
    content = hashlib.sha256(raw).hexdigest()
    name = cache.sign(["input", str(file), content, dict(vars or {}), installed()])
    entry = cache.read(name)
    if entry is not None:
        found = _hit(cache, entry, file, data, env)
        if found is not None:
            return found
    # the bytes hashed are the bytes validated: the file is not read again
    from lakeroutine.plugins import load_plugins
    from lakeroutine.routine import validate_routine

    recording = RecordingEnv(env)
    start_recording_files()
    try:
        registry = load_plugins(env=recording)
        routine = validate_routine(
            file, registry=registry, variables=vars, env=recording, content=data
        )
    finally:
        opened = stop_recording_files()
    steps = steps_of(routine)
    _record(cache, name, file, routine, steps, recording, opened)
    return routine.name, steps


def _hit(
    cache: ParseCache, entry: dict[str, Any], file: Path, data: Any, env: Mapping[str, str]
) -> tuple[str, list[StepInfo]] | None:
    """The name and steps read from ``data`` (the file's content) when everything
    validation read is unchanged."""
    try:
        depends = _depends(entry["env"], entry["whole"], entry["files"], entry["paths"], env)
        if not hmac.compare_digest(cache.sign(depends), entry["depends"]):
            return None
        found = (data.get("routine_name"), steps_in(data, str(file)))
        if not hmac.compare_digest(cache.sign(_shape(*found)), entry["steps"]):
            return None
    except Exception:  # an entry we cannot use, or a file that changed shape: validate
        return None
    return found


def _depends(
    names: list[str], whole: bool, files: list[str], paths: list[str], env: Mapping[str, str]
) -> list[Any]:
    """The values of what validation read: those environment variables, the files it read
    (size and time), the paths its params and args name (file, folder or absent)."""
    values = dict(env) if whole else {name: env.get(name) for name in names}
    return [
        "depends",
        values,
        [file_signature(path) for path in files],
        [path_kind(path) for path in paths],
    ]


def _shape(name: Any, steps: list[StepInfo]) -> list[Any]:
    """The name and every field of every step, as one text (repr of str, int and float
    values: exact, and cheaper than JSON for 200 steps)."""
    return ["steps", name, repr([tuple(vars(step).values()) for step in steps])]


def _record(
    cache: ParseCache,
    name: str,
    file: Path,
    routine: Routine,
    steps: list[StepInfo],
    recording: RecordingEnv,
    opened: list[str],
) -> None:
    """Keep "this input is valid" unless a secret would be written in clear (paths, names).
    The entry holds the validated steps' HMAC: a later parse uses it only when its reading
    of the file as written gives exactly these steps (:func:`_hit`)."""
    named: set[str] = set()
    for block in routine.steps:
        local_paths(block.params_dump, named)
        for task in block.tasks:
            if task.args_dump is not None:
                local_paths(task.args_dump, named)
    files = sorted(set(opened) - {str(file)})
    paths = sorted(named - set(files) - {str(file)})
    clear = [*files, *paths, *recording.names]
    if any(secret in text for secret in routine.secrets if secret for text in clear):
        return
    names = sorted(recording.names)
    cache.write(
        name,
        {
            "env": names,
            "whole": recording.whole,
            "files": files,
            "paths": paths,
            "depends": cache.sign(_depends(names, recording.whole, files, paths, recording.base)),
            "steps": cache.sign(_shape(routine.name, steps)),
        },
    )
