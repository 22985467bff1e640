"""What a user of `lakeroutine` sees with an sftp:// location: a missing key file or
known_hosts named with its option, and no library's deprecation warnings (``--debug`` only).
Each runs the command in a fresh process, as a user does (a library warns once per process,
on import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _routine(tmp_path, server, **sftp):
    path = tmp_path / "routine.json"
    options = server.options(**sftp)
    path.write_text(
        json.dumps(
            {
                "routine_name": "drop",
                "executors": {
                    "StagingExecutor": {
                        "params": {
                            "parent_directory": server.url("outgoing/"),
                            "dump_directory": str(tmp_path / "staging"),
                            "storage_options": options,
                        },
                        "tasks": ["transfer", "post_staging"],
                    }
                },
            }
        )
    )
    return path


def _cli(tmp_path, *argv):
    env = {**os.environ, "LAKEROUTINE_STATE_DIR": str(tmp_path / "state")}
    env.pop("PYTHONWARNINGS", None)
    command = [sys.executable, "-m", "lakeroutine.cli", *argv]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("field", ["key_file", "known_hosts"])
def test_a_missing_key_file_is_named_with_its_option(asyncssh_server, tmp_path, field):
    asyncssh_server.write("outgoing/a.csv", "1\n")
    missing = tmp_path / "no" / f"such_{field}"
    path = _routine(tmp_path, asyncssh_server, **{field: str(missing)})
    done = _cli(tmp_path, "run", str(path))
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"lakeroutine: error: {path}, executor 'StagingExecutor'")
    assert f"storage_options.sftp.{field}: {missing} does not exist" in last
    assert "cannot reach" not in last and "FileNotFoundError" not in last
    assert asyncssh_server.files("outgoing") == {"a.csv": b"1\n"}  # nothing moved
    assert not (tmp_path / "staging").exists()


def test_library_warnings_show_only_with_debug(asyncssh_server, tmp_path):
    asyncssh_server.write("outgoing/a.csv", "1\n")
    path = _routine(tmp_path, asyncssh_server)
    done = _cli(tmp_path, "validate", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # asyncssh's import warns about DSA (cryptography): not shown
    assert "valid (1 executor, 2 tasks)" in done.stdout

    debug = _cli(tmp_path, "validate", str(path), "--debug")
    assert debug.returncode == 0, debug.stderr
    assert "Warning" in debug.stderr  # the library's warnings are there when asked for
