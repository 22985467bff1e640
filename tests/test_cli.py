"""The `lakeroutine` command: exit codes, messages, reports, plugins, schema, start-up cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lakeroutine.cli import main

CORE_ONLY = {"LAKEROUTINE_PLUGINS": ""}  # the built-in plugin only
CLI = "import lakeroutine.cli; sys.exit(lakeroutine.cli.main())"


@pytest.fixture(autouse=True)
def core_only(monkeypatch):
    for key, value in CORE_ONLY.items():
        monkeypatch.setenv(key, value)


def staging_routine(lake, **params):
    return lake.routine_file(
        {
            "routine_name": "cli",
            "executors": {
                "StagingExecutor": {
                    "params": {
                        "parent_directory": "landing",
                        "dump_directory": "staging",
                        **params,
                    },
                    "tasks": ["transfer", "post_staging"],
                }
            },
        }
    )


def test_run_writes_a_report_and_exits_0(lake, capsys):
    lake.write("a.csv", "1")
    report = lake.root / "out" / "report.json"
    assert main(["run", str(staging_routine(lake)), "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["routine_name"] == "cli" and data["status"] == "succeeded"
    assert {"started_at", "duration_s", "tasks"} <= set(data)
    assert [(t["executor"], t["task"], t["status"]) for t in data["tasks"]] == [
        ("StagingExecutor", "transfer", "succeeded"),
        ("StagingExecutor", "post_staging", "succeeded"),
    ]
    assert set(data["tasks"][0]) >= {"executor", "task", "status", "duration_s", "output", "error"}
    assert "StagingExecutor.transfer: " in capsys.readouterr().out  # small outputs shown
    assert main(["run", str(staging_routine(lake)), "--no-outputs"]) == 0
    assert capsys.readouterr().out == ""


def test_a_failed_task_exits_1(lake, capsys):
    (lake.root / "t.py").write_text("def f(source, target):\n    raise ValueError('boom')\n")
    lake.write("a.csv", "1")
    assert main(["run", str(staging_routine(lake, py_exec_path="t.py:f"))]) == 1
    assert (
        "StagingExecutor.transfer failed: transformation failed on a.csv" in capsys.readouterr().err
    )
    assert lake.files(lake.landing) == {"a.csv": b"1"}


def test_invalid_routine_exits_2_with_one_message_and_no_traceback(lake, capsys):
    path = lake.routine_file({"routine_name": "x", "executors": {"StagingExecuter": {}}})
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lakeroutine: error: ")
    assert str(path) in err and "did you mean 'StagingExecutor'?" in err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(lake, capsys):
    path = lake.routine_file({"routine_name": "x", "executors": {"Nope": {}}})
    assert main(["--debug", "validate", str(path)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    assert main(["run"]) == 2
    assert main(["run", "x.json", "--var", "novalue"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err


def test_dry_run_and_validate_change_nothing(lake, capsys):
    lake.write("a.csv", "1")
    path = staging_routine(lake)
    assert main(["validate", str(path)]) == 0
    assert "valid (1 executor, 2 tasks)" in capsys.readouterr().out
    assert main(["run", str(path), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "would run StagingExecutor.transfer",
        "would run StagingExecutor.post_staging",
    ]
    assert lake.files(lake.landing) == {"a.csv": b"1"} and not lake.staging.exists()


def test_only_runs_the_selected_task(lake):
    lake.write("a.csv", "1")
    assert main(["run", str(staging_routine(lake)), "--only", "StagingExecutor.transfer"]) == 0
    assert lake.files(lake.landing) == {"a.csv": b"1"} and lake.files(lake.staging) == {
        "a.csv": b"1"
    }


def test_plugins_json_and_text(capsys):
    assert main(["plugins", "--json"]) == 0
    (builtin,) = json.loads(capsys.readouterr().out)
    assert builtin["distribution"] == "lakeroutine" and builtin["version"]
    assert builtin["executors"] == {"StagingExecutor": ["post_staging", "transfer"]}
    assert builtin["storages"] == ["file"]
    assert "register_executors" in builtin["hooks"]
    core = Path(__file__).resolve().parents[1] / "core"  # the test environment's editable install
    assert builtin["installed_from"] == {"kind": "editable", "location": str(core)}
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "executor StagingExecutor: post_staging, transfer" in out
    assert f"lakeroutine.builtin (lakeroutine {builtin['version']}, editable from {core})" in out


def test_schema_describes_every_executor(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    staging = schema["properties"]["executors"]["properties"]["StagingExecutor"]
    params = staging["properties"]["params"]
    assert "parent_directory" in params["properties"] and "parent_directory" in params["required"]
    assert staging["properties"]["tasks"]["items"]["anyOf"][0] == {
        "enum": ["post_staging", "transfer"]
    }


HEAVY = ("boto3", "botocore", "pyarrow", "duckdb")


@pytest.mark.parametrize("argv", [["--help"], ["validate", "{routine}"]])
def test_start_up_imports_nothing_heavy(lake, argv):
    """With every installed plugin loaded, --help and validate import no AWS or data library."""
    lake.write("a.csv", "1")
    args = [a.format(routine=staging_routine(lake)) for a in argv]
    code = (
        "import sys\n"
        "from lakeroutine.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LAKEROUTINE_PLUGINS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_cli_writes_task_lines_itself_masked_and_formatted_as_its_log_lines(capsys) -> None:
    """Under a command, a task's INFO line skips the log record (lakeroutine.console) but
    reads as the handler's lines do, secrets masked; outside one, no writer is installed."""
    import logging
    import re

    from lakeroutine import console
    from lakeroutine.cli import _cli_logging
    from lakeroutine.redact import remember

    assert console.info_writer() is None
    remember(["s3cr3t-console-token"])
    with _cli_logging(debug=False, quiet=False):
        console.info_writer()("task %s deferred: %s", "athena.run_query", "s3cr3t-console-token")
        logging.getLogger("lakeroutine.run").info("task %s started", "athena.run_query")
    with _cli_logging(debug=False, quiet=True):
        assert console.info_writer() is None  # -q: no INFO lines at all
    assert console.info_writer() is None
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO    task athena.run_query deferred: \*+", lines[0])
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO    task athena.run_query started", lines[1])


def test_a_held_task_line_is_written_without_another_line_to_carry_it() -> None:
    """Task lines are held a moment to share one write, but a line said alone (a long task's
    start) reaches the console while the run goes on, and closing writes whatever is held."""
    import io
    import threading
    import time

    from lakeroutine.console import HeldLines

    stream = io.StringIO()
    lines = HeldLines(stream, threading.RLock(), lambda level, text, _: f"{level} {text}", str)
    try:
        lines("task %s started", "slow.task")
        deadline = time.monotonic() + 60
        while "INFO task slow.task started\n" not in stream.getvalue():
            assert time.monotonic() < deadline, "the lone line was never written"
            time.sleep(0.01)
        lines("task %s succeeded", "slow.task")
    finally:
        lines.close()
    assert stream.getvalue() == "INFO task slow.task started\nINFO task slow.task succeeded\n"


def test_task_lines_come_before_what_the_run_prints_on_one_terminal(lake) -> None:
    """On a terminal (stdout and stderr the same tty, both line-buffered), the held task
    lines are written before the outputs the run prints at its end (and before any log
    record), not when their time is up: the run holds lines for a minute here."""
    import pty

    lake.write("a.csv", "x\n1\n")
    routine = staging_routine(lake)
    main_end, child_end = pty.openpty()
    hold_a_minute = f"import sys, lakeroutine.console as k; k.HOLD_S = 60; {CLI}"
    process = subprocess.Popen(
        [sys.executable, "-c", hold_a_minute, "run", str(routine)],
        stdout=child_end,
        stderr=child_end,
        cwd=lake.root,
    )
    os.close(child_end)
    said = b""
    while True:
        try:
            chunk = os.read(main_end, 4096)
        except OSError:  # the terminal closes with the process
            break
        if not chunk:
            break
        said += chunk
    os.close(main_end)
    assert process.wait() == 0, said
    text = said.decode().replace("\r\n", "\n")
    finished = text.index("task StagingExecutor.post_staging succeeded")
    outputs = text.index("StagingExecutor.transfer:", finished)  # the outputs printed last
    assert finished < outputs, text


def test_a_console_that_is_gone_loses_the_held_lines_and_nothing_else() -> None:
    """Lines held for a closed pipe (``lakeroutine run | head``) are dropped, as the log
    handler drops its records there: no error in the run, its writer thread or at close."""
    import threading

    from lakeroutine.console import HeldLines

    class GonePipe:
        tried = 0

        def write(self, text: str) -> int:
            self.tried += 1
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    stream = GonePipe()
    failures: list[threading.ExceptHookArgs] = []
    saved_hook, threading.excepthook = threading.excepthook, failures.append
    try:
        lines = HeldLines(stream, threading.RLock(), lambda level, text, _: text, str)
        lines("task %s started", "a.b")
        lines.flush()
        lines("task %s succeeded", "a.b")
        lines.close()
    finally:
        threading.excepthook = saved_hook
    assert stream.tried >= 2 and failures == []


def test_a_run_whose_reader_left_ends_as_the_run_did(lake) -> None:
    """``lakeroutine run ... | head -1``: the outputs printed to a pipe whose reader is gone
    are dropped, with no traceback, and the exit code is the run's (it succeeded here)."""
    lake.write("a.csv", "x\n1\n")
    routine = staging_routine(lake)
    reader, writer = os.pipe()
    os.close(reader)  # the reader has left before anything is printed
    try:
        done = subprocess.run(
            [sys.executable, "-c", f"import sys; {CLI}", "run", str(routine)],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            cwd=lake.root,
        )
    finally:
        os.close(writer)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr
    assert "task StagingExecutor.post_staging succeeded" in done.stderr
