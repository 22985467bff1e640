"""Progress bars for long work, on terminals only (tqdm, imported when a bar is shown)."""

from __future__ import annotations

from typing import Any, TextIO

from lakeroutine.context import Progress, ProgressFactory, no_progress


class _Bar:
    def __init__(self, stream: TextIO, description: str, unit: str, delay: float) -> None:
        from tqdm import tqdm

        # " file": "1927 files [00:04, 582.61 file/s]"; once set_total is called, tqdm adds
        # the total and a percentage: "35%|###  | 674/1927 [...]".
        self._bar = tqdm(desc=description, unit=f" {unit}", file=stream, leave=False, delay=delay)

    def set_total(self, total: int | None) -> None:
        self._bar.total = total
        self._bar.refresh()

    def advance(self, n: int = 1) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def progress_factory_for(
    stream: Any, *, quiet: bool = False, delay: float = 1.0
) -> ProgressFactory:
    """A factory of bars on ``stream`` if it is a terminal (bars appear after ``delay``
    seconds of work, so short tasks show none); else one that shows nothing."""
    if quiet or not getattr(stream, "isatty", lambda: False)():
        return no_progress

    def factory(description: str, unit: str) -> Progress:
        return _Bar(stream, description, unit, delay)

    return factory
