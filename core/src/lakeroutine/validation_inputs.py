"""What a routine's validation read besides the routine file: the environment variables it
looked up, the local files it opened or named, and the installed distributions.

The parse-time validation cache (:mod:`lakeroutine.parse_cache`) keys on these, so an entry
stands only while every one of them is as it was when the routine was validated. Imports
nothing heavy: a scheduler's parse checks them on every cache hit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

_opened: list[str] | None = None  # files opened while recording (None: not recording)
_hooked = False
_CODE = (".py", ".pyc", ".pyd", ".so", ".pth")  # imports, not what validation reads


class RecordingEnv(Mapping[str, str]):
    """The environment as validation sees it, remembering each name looked up (and whether
    it was read whole), so a cache entry depends on exactly those values."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.base = env
        self.names: set[str] = set()
        self.whole = False

    def __getitem__(self, name: str) -> str:
        self.names.add(name)
        return self.base[name]

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.names.add(name)
        return name in self.base

    def __iter__(self) -> Iterator[str]:
        self.whole = True
        return iter(self.base)

    def __bool__(self) -> bool:  # ``env or {}``: not a reading of any value
        return bool(self.base)

    def __len__(self) -> int:
        self.whole = True
        return len(self.base)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], (str, bytes)):
        _opened.append(os.fsdecode(args[0]))


def start_recording_files() -> None:
    """Record the files opened from now on (the audit hook is added once per process)."""
    global _opened, _hooked
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked = True
    _opened = []


def stop_recording_files() -> list[str]:
    """The data files opened since :func:`start_recording_files` (modules imported left out)."""
    global _opened
    opened, _opened = _opened or [], None
    imports = {os.path.abspath(entry) for entry in sys.path if entry}
    found = {os.path.abspath(name) for name in opened if not name.endswith(_CODE)}
    return sorted(
        name for name in found - imports if ".dist-info" not in name and ".egg-info" not in name
    )


def local_paths(value: Any, found: set[str]) -> set[str]:
    """Every absolute local path among the leaves of ``value`` (params and args as dumped):
    a file or folder validation checked exists."""
    if isinstance(value, Mapping):
        for item in value.values():
            local_paths(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            local_paths(item, found)
    elif isinstance(value, os.PathLike) or (isinstance(value, str) and os.path.isabs(value)):
        text = os.fspath(value)
        if "\n" not in text and len(text) < 4096:
            found.add(os.path.normpath(text))
    return found


def path_kind(path: str) -> list[Any]:
    """Whether a path named in params or args is a file, a folder or absent now: what
    validation checks of it (a landing folder's content, which changes, is not)."""
    return [path, "dir" if os.path.isdir(path) else "file" if os.path.exists(path) else None]


def file_signature(path: str) -> list[Any]:
    """What a file validation read is now: kind, size and modification time (None: absent)."""
    try:
        stat = os.stat(path)
    except (OSError, ValueError):
        return [path, None]
    return [path, "dir" if os.path.isdir(path) else "file", stat.st_size, stat.st_mtime_ns]


def installed() -> list[Any]:
    """The Python running and what is installed where it imports from: the modification
    time of each ``sys.path`` folder holding distributions (an install, upgrade or removal
    changes it; a DAG folder holding none is left out), the size and time of each zip on it,
    and the lakeroutine distributions in it (name and version from their metadata folders)."""
    found: list[Any] = [sys.version, sys.executable]
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
            stamp = os.stat(entry or ".").st_mtime_ns
        except NotADirectoryError:  # a zip, perhaps of distributions: replaced whole
            found.append(file_signature(entry))
            continue
        except OSError:
            continue
        metadata = [name for name in names if name.endswith((".dist-info", ".egg-info"))]
        if metadata or "EGG-INFO" in names:  # an unzipped egg: its folder's name and time
            found.append([entry, stamp])
            found.extend(sorted(n for n in metadata if n.lower().startswith("lakeroutine")))
    return found
