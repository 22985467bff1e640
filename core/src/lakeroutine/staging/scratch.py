"""Scratch folders for per-file transformations.

Each call gets an ``in`` folder (a remote landing file downloaded there), reused from file
to file, and an ``out`` folder (the transformation writes there; its outputs are moved into
staging) that no call had before: a transformation may leave a thread writing after it
returns, and a reused ``out`` would hand that late file to the next landing file as its
output. A used ``out`` is emptied and left in place, never handed out again; the whole tree
is removed at the end, so no folder is removed per file (``rmdir`` cost 0.2 s of a 1.5 s
run of 40 files on the busy disk). They live under the system's temporary folder
(``TMPDIR``), as before.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def empty(folder: Path) -> None:
    """Remove everything inside ``folder`` (files, links and subfolders), not the folder."""
    for path in folder.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


class ScratchFolders:
    """Pooled ``in`` folders and fresh ``out`` folders under one temporary folder; safe
    from many threads. ``close`` removes them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root: Path | None = None
        self._free: list[Path] = []
        self._made = itertools.count(1)

    @contextmanager
    def pair(self) -> Iterator[tuple[Path, Path]]:
        """An empty ``(in, out)`` pair for one file; ``in`` is kept for the next after."""
        in_dir, out_dir = self._take()
        try:
            yield in_dir, out_dir
        finally:
            try:
                empty(out_dir)  # retired: a late writer's files stay there until close
                empty(in_dir)
            except OSError:  # left for close: never hand out a folder with leftovers
                pass
            else:
                with self._lock:
                    self._free.append(in_dir)

    def _take(self) -> tuple[Path, Path]:
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="lakeroutine-"))
            root = self._root
            in_dir = self._free.pop() if self._free else None
            number = next(self._made)
        out_dir = root / f"out{number}"
        out_dir.mkdir()
        if in_dir is None:
            in_dir = root / f"in{number}"
            in_dir.mkdir()
        return in_dir, out_dir

    def close(self) -> None:
        """Remove every folder (and anything a failed file left in one)."""
        with self._lock:
            root, self._root, self._free = self._root, None, []
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
