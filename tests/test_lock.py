"""The test environment is locked: requirements-dev.lock (written by `.ci/lock`) pins every
package exactly and still satisfies requirements-dev.txt, so a fresh clone installs what CI
passed with; the distributions users install keep open ranges."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest's own dependency on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _requirement_lines(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def _pins() -> dict[str, tuple[str, str]]:
    """Each locked package (name normalised) to its version and marker text."""
    pins = {}
    for line in _requirement_lines(ROOT / "requirements-dev.lock"):
        if line.startswith("-e "):
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier  # exactly one specifier...
        assert spec.operator == "==", line  # ...an exact pin
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        pins.setdefault(name, []).append((spec.version, str(requirement.marker or "")))
    return pins


def test_every_locked_package_is_pinned_exactly_and_the_lock_says_how_to_refresh_it():
    text = (ROOT / "requirements-dev.lock").read_text()
    assert ".ci/lock" in text.splitlines()[1]  # the command that wrote it
    assert len(_pins()) > 100  # the whole tree, not only the direct requirements


def test_the_lock_satisfies_every_range_of_requirements_dev_txt():
    """Edit requirements-dev.txt without running `.ci/lock`, and this fails."""
    pins = _pins()
    editables = {line for line in _requirement_lines(ROOT / "requirements-dev.lock")}
    for line in _requirement_lines(ROOT / "requirements-dev.txt"):
        if line.startswith("-e "):
            path = line[3:].split("[", 1)[0]
            assert f"-e {path}" in editables, f"{line} is not in requirements-dev.lock"
            continue
        requirement = Requirement(line)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{requirement.name} is not in requirements-dev.lock: run .ci/lock"
        for version, _marker in pins[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"requirements-dev.lock pins {name}=={version}, outside {line!r}: run .ci/lock"
            )


def test_distributions_keep_open_ranges_for_users():
    """No package users install pins a dependency: their boto3 moves on."""
    for pyproject in [ROOT / "core" / "pyproject.toml", *ROOT.glob("plugins/*/pyproject.toml")]:
        project = tomllib.loads(pyproject.read_text())["project"]
        extras = project.get("optional-dependencies", {}).values()
        for line in [*project.get("dependencies", []), *(d for group in extras for d in group)]:
            assert "==" not in line, f"{pyproject.parent.name}: {line} is a pin, not a range"
