"""The plugin scan reads only the distributions that can declare lakeroutine's group, and
finds exactly what ``importlib.metadata``'s full scan finds there."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest
from lakeroutine.entry_points import scan


def _found(entry_points: metadata.EntryPoints) -> list[tuple[str, str, str, str]]:
    return sorted(
        (ep.name, ep.value, ep.dist.name, ep.dist.version)  # type: ignore[union-attr]
        for ep in entry_points.select(group="lakeroutine")
    )


def _install(folder: Path, name: str, version: str, plugin: str) -> None:
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[lakeroutine]\n{plugin} = {plugin}_module\n")


def test_the_installed_plugins_are_those_the_full_scan_finds() -> None:
    found = scan(("lakeroutine",))
    assert _found(found.entry_points) == _found(metadata.entry_points())
    assert found.version_of("lakeroutine", "lakeroutine", "lakeroutine.cli:main") == (
        metadata.version("lakeroutine")
    )


def test_the_first_distribution_of_a_name_on_the_path_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As importlib.metadata: an older copy later on sys.path is shadowed, and a third
    party's plugin of any distribution name is found."""
    _install(tmp_path / "first", "lr_thing", "2.0", "newer")
    _install(tmp_path / "second", "LR.Thing", "1.0", "older")
    _install(tmp_path / "second", "someone_else", "0.1", "theirs")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "first"), str(tmp_path / "second")])
    expected = _found(metadata.entry_points())
    assert [item[:2] for item in expected] == [
        ("newer", "newer_module"),
        ("theirs", "theirs_module"),
    ]
    assert _found(scan(("lakeroutine",)).entry_points) == expected


def test_an_unzipped_egg_on_the_path_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An egg folder put on sys.path (easy-install.pth, buildout) declares its entry points
    in its ``EGG-INFO``, which importlib.metadata reads: so must the scan."""
    egg = tmp_path / "eggy-1.0-py3.11.egg"
    info = egg / "EGG-INFO"
    info.mkdir(parents=True)
    (info / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: eggy\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[lakeroutine]\neggy = eggy_module\n")
    monkeypatch.setattr(sys, "path", [str(egg)])
    expected = _found(metadata.entry_points())
    assert [item[:2] for item in expected] == [("eggy", "eggy_module")]
    assert _found(scan(("lakeroutine",)).entry_points) == expected
