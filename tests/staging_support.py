"""What the storage plugins' staging tests share (gs://, az://, sftp://).

- ``routine(**params)``: a fixture (import it into a ``conftest.py``: ``from staging_support
  import routine``): a routine with one StagingExecutor block running ``transfer`` and
  ``post_staging`` (or ``tasks=[...]``), its state in the test's tmp folder.
- :data:`EARLIER` and :func:`assert_archived_beside_earlier`: an archive that already holds
  a file of a landing file's name keeps it, and the landing file is archived under a new name.
- :func:`kill_at_several_points`: SIGKILL ``lakeroutine run`` while it copies, then while it
  archives or deletes, checking each kill landed mid-way.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lakeroutine.testing import kill_when


def staging_routine(state_dir: str, **params: Any) -> dict[str, Any]:
    """A routine with one StagingExecutor block running transfer and post_staging."""
    tasks = params.pop("tasks", ["transfer", "post_staging"])
    return {
        "routine_name": params.pop("routine_name", "staging_test"),
        "state_dir": state_dir,
        "executors": {"StagingExecutor": {"params": params, "tasks": tasks}},
    }


@pytest.fixture
def routine(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """``routine(**params)``: a staging routine whose state lives in the test's tmp folder."""

    def build(**params: Any) -> dict[str, Any]:
        return staging_routine(str(tmp_path / "state"), **params)

    return build


def kill_at_several_points(
    start: Callable[[], Any], count: Callable[[str], int], mode: str, total: int
) -> int:
    """Kill runs (``start()`` gives a started ``lakeroutine run`` process) twice while
    transfer copies, then twice while post_staging archives or once while it deletes, each
    as soon as ``count(folder)`` (files in ``staging``, ``landing_archive`` or ``landing``)
    says it is under way; asserts each phase was cut mid-way. Returns the number of kills."""
    kills = 0
    for share in (1, total // 3):
        kills += kill_when(start(), lambda s=share: count("staging") >= s)
    assert 0 < count("staging") < total  # the kills landed mid-transfer
    if mode == "archive":
        for share in (1, total // 3):
            kills += kill_when(start(), lambda s=share: count("landing_archive") >= s)
        assert 0 < count("landing_archive") < total  # killed mid-archive
    else:
        kills += kill_when(start(), lambda: count("landing") < total)
    assert kills >= 3
    return kills


EARLIER = b"archived by an earlier run"


def assert_archived_beside_earlier(
    archive: dict[str, bytes], originals: dict[str, bytes], earlier: str, mode: str = "archive"
) -> None:
    """``archive`` (name -> bytes) still holds :data:`EARLIER` at ``earlier``; in archive mode
    it holds every original once, the one named ``earlier`` under a new name beside it."""
    archive = dict(archive)
    assert archive.pop(earlier) == EARLIER  # never overwritten
    if mode != "archive":
        assert archive == {}
        return
    stem = earlier.rsplit(".", 1)[0] + "."
    renamed = [name for name in archive if name.startswith(stem)]
    assert len(renamed) == 1 and archive.pop(renamed[0]) == originals[earlier]
    assert archive == {k: v for k, v in originals.items() if k != earlier}


LISTING_PEAKS = """
import tracemalloc
from {module} import {cls}
storage = {cls}(**{options!r})

def peak(limit):
    tracemalloc.start()
    count = sum(1 for _ in zip(range(limit), storage.list_files({url!r}), strict=False))
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == limit, count
    return top

peak(100)  # first-use allocations
print(peak(100), peak(900))
"""


def listing_memory_peaks(module: str, cls: str, options: dict[str, Any], url: str) -> list[int]:
    """Peak memory listing 100 and 900 names of ``url`` with ``cls(**options)``, measured in a
    process of its own: tracemalloc counts every thread's allocations, and a pytest-xdist
    worker runs other tests' emulator and sender threads beside the test."""
    script = LISTING_PEAKS.format(module=module, cls=cls, options=options, url=url)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return [int(n) for n in done.stdout.split()]
