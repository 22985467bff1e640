"""One scan of the installed distributions' entry points per plugin load, and their names.

``importlib.metadata`` reads every distribution's ``entry_points.txt`` on each
``entry_points()`` call (about 10 ms with Airflow's 220 distributions), and pydantic makes
another scan of its own (group ``pydantic``) when the first model is built. Nothing is
cached between loads (a plugin installed or removed is seen by the next one); within a
load, one scan answers both. A distribution's name and version come from its ``METADATA``
header lines, without the ``email`` parser that ``Distribution.metadata`` imports.
"""

from __future__ import annotations

import os
import pathlib
import re
import sys
from importlib import metadata
from importlib.machinery import PathFinder
from typing import Any

PYDANTIC_GROUP = "pydantic"
CORE = "lakeroutine"  # the core distribution's normalised name: its version is read too


class Scan:
    """The entry points every installed distribution declares, read in one pass (a plain
    class: a dataclass would compile its methods at import, in every scheduler's parse)."""

    def __init__(self, entry_points: metadata.EntryPoints) -> None:
        self.entry_points = entry_points

    def group(self, name: str) -> metadata.EntryPoints:
        return self.entry_points.select(group=name)

    def version_of(self, distribution: str, script: str, target: str) -> str:
        """The version of ``distribution``, found by the console ``script`` it installs
        (``target`` is its ``module:function``), else looked up by name."""
        for ep in self.entry_points.select(group="console_scripts", name=script):
            dist = getattr(ep, "dist", None)
            if ep.value == target and dist is not None:
                return name_and_version(dist)[1]
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            return "unknown"


def scan(wanted: tuple[str, ...] = ()) -> Scan:
    """The entry points of every installed distribution that declares one of the groups
    ``wanted`` or ``pydantic``, or is lakeroutine itself (one pass: ``importlib.metadata``
    parses every distribution's entry points, these ones only); pydantic told what its own
    scan would find when that is no plugin at all. Without ``wanted``: every group."""
    found = Scan(_entry_points(wanted))
    if not found.group(PYDANTIC_GROUP):
        _no_pydantic_plugins()
    return found


def _entry_points(wanted: tuple[str, ...]) -> metadata.EntryPoints:
    """Those of :func:`importlib.metadata.entry_points` in the distributions that can hold
    a group ``wanted`` (their ``entry_points.txt`` names it), found as it finds them:
    ``sys.path`` in order, the first distribution of a name taken. Anything it finds
    otherwise (a zip on ``sys.path``, an ``.egg`` in it or on it, another finder) gets its
    full scan."""
    if not wanted or not _paths_only():
        return metadata.entry_points()
    words = (*wanted, PYDANTIC_GROUP, CORE)
    seen: set[str] = set()
    found: list[metadata.EntryPoint] = []
    for entry in sys.path:
        folder = entry or "."
        if os.path.basename(folder).lower().endswith(".egg"):  # an egg folder's EGG-INFO
            return metadata.entry_points()
        try:
            names = os.listdir(folder)
        except NotADirectoryError:  # a zip of modules, perhaps of distributions
            return metadata.entry_points()
        except OSError:
            continue
        for name in names:
            low = name.lower()
            if low.endswith(".egg"):
                return metadata.entry_points()
            if not low.endswith((".dist-info", ".egg-info")):
                continue
            key = _normalized(low.rpartition(".")[0].partition("-")[0])
            if key in seen:
                continue
            seen.add(key)
            path = os.path.join(folder, name)
            try:
                with open(os.path.join(path, "entry_points.txt"), encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError):  # none, or unreadable: none to load
                continue
            if key == CORE or any(word in text for word in words):
                found.extend(metadata.PathDistribution(pathlib.Path(path)).entry_points)
    return metadata.EntryPoints(found)


def _paths_only() -> bool:
    """Whether distributions are found on ``sys.path`` folders only (the standard finder,
    or the ``importlib_metadata`` backport's, which searches the same folders)."""
    for finder in sys.meta_path:
        if getattr(finder, "find_distributions", None) is None:
            continue
        if finder is not PathFinder and type(finder).__module__.partition(".")[0] not in (
            "importlib_metadata",
            "importlib",
        ):
            return False
    return True


def _normalized(name: str) -> str:
    """A distribution's name as ``importlib.metadata`` compares them (PEP 503, ``_``)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _no_pydantic_plugins() -> None:
    """Give pydantic's plugin loader the answer its first model would scan for: none.

    Only when it has not scanned yet and has the cache this relies on (pydantic 2.x);
    with any ``pydantic`` entry point installed, pydantic scans and loads them itself."""
    try:
        from pydantic.plugin import _loader
    except ImportError:  # another pydantic: it scans for itself
        return
    if getattr(_loader, "_plugins", False) is None and not getattr(
        _loader, "_loading_plugins", True
    ):
        _loader._plugins = {}


def name_and_version(dist: Any) -> tuple[str, str]:
    """A distribution's ``Name`` and ``Version`` from its metadata's header lines."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the headers end at the first blank line
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version") and key not in fields:
            fields[key] = value.strip()
    if len(fields) < 2:  # unusual metadata: let importlib.metadata read it
        return dist.metadata["Name"] or "unknown", dist.version or "unknown"
    return fields["Name"], fields["Version"]
