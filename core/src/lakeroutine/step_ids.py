"""How a routine's steps are named (see :mod:`lakeroutine.steps`): shared by validation and
by the cheap reading of a routine file, so both always agree. Imports nothing heavy."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any


def next_step_id(seen: dict[str, int], instance: str, task: str) -> str:
    """The id of the next ``task`` of block ``instance``: ``instance.task`` the first time,
    ``instance.task#n`` the n-th time; ``seen`` counts them across the routine."""
    base = f"{instance}.{task}"
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 else f"{base}#{seen[base]}"


def step_slug(instance: str, task: str, step_id: str) -> str:
    """The step id reduced to ``[A-Za-z0-9_]``: ``instance__task`` (``__n`` for the n-th)."""
    _base, _, count = step_id.partition("#")
    return f"{re.sub(r'[^A-Za-z0-9_]', '_', instance)}__{task}" + (f"__{count}" if count else "")


def task_digest(executor: str, task: str, args: Any) -> str:
    """What a step is, as the file writes it (executor, task, args before ``${}``
    substitution): two reads of the file agree on it whatever the run's variables, and a
    step id that came to name another task (one inserted before it) gets another digest."""
    text = _ENCODER.encode([executor, task, args or {}])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# json.dumps(..., sort_keys=True, default=str), its encoder made once (not once per task)
_ENCODER = json.JSONEncoder(sort_keys=True, default=str)
