"""The storage conformance kit run by a third-party storage, as CONTRIBUTING shows: a
``folder://`` storage serving local folders under its own scheme, registered in code."""

from __future__ import annotations

from typing import Any

import pytest
from lakeroutine import hookimpl
from lakeroutine.storage.local import LocalStorage
from lakeroutine.testing.conformance.storage import LocalPlace, StorageConformance


class FolderStorage:
    """``folder:///abs/path`` URLs: every call handed to the local storage with the
    scheme taken off (a storage plugin in a few lines)."""

    scheme = "folder"

    def __init__(self, **options: Any) -> None:
        self._local = LocalStorage()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._local, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            args = tuple(a.removeprefix("folder://") if isinstance(a, str) else a for a in args)
            return method(*args, **kwargs)

        return call


class FolderPlugin:
    @hookimpl
    def register_storages(self, register):
        register("folder", FolderStorage)


class FolderPlace(LocalPlace):
    """A local folder spelt as ``folder://`` URLs."""

    label = "folder (third-party sample)"

    def url(self, folder: str) -> str:
        return "folder://" + super().url(folder)

    def aliases(self, folder: str) -> list[str]:
        spellings = (
            a.removeprefix("file://").removeprefix("folder://") for a in super().aliases(folder)
        )
        return ["folder://" + spelling for spelling in spellings]


@pytest.fixture(autouse=True)
def _builtins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "")


class TestFolderStorage(StorageConformance):
    plugins = (FolderPlugin(),)

    @pytest.fixture
    def landing_place(self, shared_tmp_path):  # a tmp folder an unprivileged login reaches
        return FolderPlace(shared_tmp_path / "lake")

    @pytest.fixture
    def staging_place(self, landing_place):
        return landing_place


def test_contributing_shows_this_sample_as_it_is():
    """The sample in CONTRIBUTING's "storage conformance kit" section is this file's code."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "CONTRIBUTING.md").read_text()
    section = text[text.index("### The storage conformance kit") :]
    [block] = re.findall(r"^```py\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)[:1]
    source = Path(__file__).read_text()
    for part in re.split(r"^ *# \.\.\..*\n", block, flags=re.MULTILINE):
        assert part.strip("\n") in source, part
