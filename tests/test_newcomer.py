"""The command line as a newcomer meets it: a starter to run, outputs worth seeing on the
terminal, progress with a total (issue 9, points 9, 13 and 14)."""

from __future__ import annotations

import io

import pytest
from lakeroutine.cli import main
from lakeroutine.progress import progress_factory_for


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_shows_a_spaced_unit_then_a_total_and_a_percentage():
    terminal = Terminal()
    bar = progress_factory_for(terminal, delay=0)("StagingExecutor.transfer: staging", "file")
    bar.advance(3)
    first = terminal.getvalue()
    bar.set_total(10)
    bar.advance(2)
    bar.close()
    assert "0 file [" in first and " file/s]" in first  # "1927 file", not "1927file"
    assert "30%" in terminal.getvalue() and "3/10" in terminal.getvalue()


def test_init_writes_a_starter_that_runs_and_prints_its_answer(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    pytest.importorskip("lakeroutine_duckdb")
    folder = tmp_path / "starter"
    assert main(["init", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {folder / 'routine.json'}" in out and "lakeroutine run" in out
    assert "What to change" in (folder / "README.md").read_text()

    assert main(["validate", str(folder / "routine.json")]) == 0
    capsys.readouterr()
    assert main(["run", str(folder / "routine.json")]) == 0
    captured = capsys.readouterr()
    assert "4 tasks: 4 succeeded in " in captured.err.splitlines()[-1]
    lines = captured.out.splitlines()
    assert "StagingExecutor.transfer: staged=1, skipped=0" in lines[0]
    query = lines.index("orders_tables.run_query:")
    assert [line.split() for line in lines[query + 1 :]] == [
        ["customer", "total"],
        ["ana", "17.5"],
        ["bob", "2.25"],
    ]
    assert list((folder / "lake" / "staging" / "orders").glob("*.parquet"))

    assert main(["run", str(folder / "routine.json"), "--no-outputs"]) == 0
    assert capsys.readouterr().out == ""


def test_init_never_overwrites(tmp_path, capsys):
    (tmp_path / "routine.json").write_text("{}")
    assert main(["init", str(tmp_path)]) == 2
    assert "would overwrite" in capsys.readouterr().err
    assert (tmp_path / "routine.json").read_text() == "{}"
    assert not (tmp_path / "lake").exists()
