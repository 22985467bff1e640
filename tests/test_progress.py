"""Progress bars: shown for long transfers on a terminal, never in logs or pipes."""

from __future__ import annotations

import io

from lakeroutine.context import no_progress
from lakeroutine.orchestrator import run_routine
from lakeroutine.plugins import load_plugins
from lakeroutine.progress import progress_factory_for


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bars_off_a_terminal_or_when_quiet():
    assert progress_factory_for(io.StringIO()) is no_progress
    assert progress_factory_for(Terminal(), quiet=True) is no_progress


def test_transfer_shows_a_bar_on_a_terminal(lake):
    for number in range(30):
        lake.write(f"f{number}.csv", "x")
    terminal = Terminal()
    spec = {
        "routine_name": "bar",
        "executors": {
            "StagingExecutor": {
                "params": {"parent_directory": "landing", "dump_directory": "staging"},
                "tasks": ["transfer"],
            }
        },
    }
    result = run_routine(
        lake.routine_file(spec),
        registry=load_plugins(entry_points=False),
        progress_factory=progress_factory_for(terminal, delay=0),
    )
    assert result.ok
    shown = terminal.getvalue()
    assert "StagingExecutor.transfer: staging" in shown and "file/s" in shown
