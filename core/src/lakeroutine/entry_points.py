"""One scan of the installed distributions' entry points per plugin load, and their names.

``importlib.metadata`` reads every distribution's ``entry_points.txt`` on each
``entry_points()`` call (about 10 ms with Airflow's 220 distributions), and pydantic makes
another scan of its own (group ``pydantic``) when the first model is built. Nothing is
cached between loads (a plugin installed or removed is seen by the next one); within a
load, one scan answers both. A distribution's name and version come from its ``METADATA``
header lines, without the ``email`` parser that ``Distribution.metadata`` imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Any

PYDANTIC_GROUP = "pydantic"


@dataclass(frozen=True)
class Scan:
    """The entry points every installed distribution declares, read in one pass."""

    entry_points: metadata.EntryPoints

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


def scan() -> Scan:
    """Every installed distribution's entry points (one pass), and pydantic told what its
    own scan would find when that is no plugin at all."""
    found = Scan(metadata.entry_points())
    if not found.group(PYDANTIC_GROUP):
        _no_pydantic_plugins()
    return found


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
