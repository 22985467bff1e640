"""The StagingExecutor on SFTP (asyncssh's server and OpenSSH's sshd): SFTP to SFTP and
mixed with local folders, the staging guarantees, bad input refused before anything moves,
passwords never shown."""

from __future__ import annotations

import subprocess
import sys

import pytest
from lakeroutine.errors import RoutineError
from sftp_servers import PASSWORD
from staging_support import EARLIER, assert_archived_beside_earlier

FILES = {f"day{i % 2}/sales_{i}.csv": f"column1,column2\nname{i},{i}\n".encode() for i in range(12)}


def land(server, folder: str = "landing") -> None:
    for rel, body in FILES.items():
        server.write(f"{folder}/{rel}", body)


@pytest.mark.parametrize("mode", ["archive", "delete"])
def test_sftp_to_sftp(sftp_server, routine, run, mode):
    land(sftp_server)
    sftp_server.write("landing_archive/day0/sales_0.csv", EARLIER)
    result = run(
        routine(
            parent_directory=sftp_server.url("landing/"),
            dump_directory=sftp_server.url("staging/"),
            archive_or_delete=mode,
            storage_options=sftp_server.options(),
        )
    )
    assert result.status == "succeeded", result.tasks
    assert sftp_server.files("staging") == FILES
    assert sftp_server.files("landing") == {}
    assert_archived_beside_earlier(
        sftp_server.files("landing_archive"), FILES, "day0/sales_0.csv", mode
    )


@pytest.mark.parametrize("direction", ["local to sftp", "sftp to local"])
def test_mixed_local_and_sftp(sftp_server, routine, run, lake, direction):
    if direction == "local to sftp":
        for rel, body in FILES.items():
            lake.write(rel, body)
        params = {"parent_directory": str(lake.landing), "dump_directory": sftp_server.url("s")}
    else:
        land(sftp_server)
        params = {
            "parent_directory": sftp_server.url("landing"),
            "dump_directory": str(lake.staging),
        }
    result = run(routine(**params, storage_options=sftp_server.options()))
    assert result.status == "succeeded", result.tasks
    if direction == "local to sftp":
        assert sftp_server.files("s") == FILES
        assert lake.files(lake.landing) == {}
        assert lake.files(lake.root / "landing_archive") == FILES
    else:
        assert lake.files(lake.staging) == FILES
        assert sftp_server.files("landing") == {}
        assert sftp_server.files("landing_archive") == FILES


def test_password_login_through_the_environment(asyncssh_server, routine, run, monkeypatch):
    land(asyncssh_server)
    monkeypatch.setenv("SFTP_PASSWORD", PASSWORD)
    options = {
        "sftp": {
            "password": "${env:SFTP_PASSWORD}",
            "known_hosts": str(asyncssh_server.known_hosts),
        }
    }
    result = run(
        routine(
            parent_directory=asyncssh_server.url("landing"),
            dump_directory=asyncssh_server.url("staging"),
            storage_options=options,
        )
    )
    assert result.status == "succeeded", result.tasks
    assert asyncssh_server.files("staging") == FILES


def cli_run(lake, params, *extra):
    routine = {
        "routine_name": "r",
        "executors": {"StagingExecutor": {"params": params, "tasks": ["transfer", "post_staging"]}},
    }
    path = lake.routine_file(routine)
    command = [sys.executable, "-m", "lakeroutine.cli", "--debug", "run", str(path), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("problem", "field", "message"),
    [
        ("unknown host key", "parent_directory", "host key of 127.0.0.1"),
        ("wrong password", "parent_directory", "refused the credentials"),
        ("missing folder", "parent_directory", "folder /nope does not exist"),
        ("unreachable", "dump_directory", "cannot reach"),
    ],
)
def test_bad_input_is_exit_2_before_anything_moves(
    asyncssh_server, lake, tmp_path, problem, field, message
):
    land(asyncssh_server)
    options = asyncssh_server.options()
    params = {
        "parent_directory": asyncssh_server.url("landing"),
        "dump_directory": asyncssh_server.url("staging"),
        "storage_options": options,
    }
    if problem == "unknown host key":
        (tmp_path / "empty_known_hosts").write_text("")
        options["sftp"]["known_hosts"] = str(tmp_path / "empty_known_hosts")
    elif problem == "wrong password":
        options["sftp"] = {
            "password": "wr0ng-pa55word",
            "known_hosts": str(asyncssh_server.known_hosts),
        }
    elif problem == "missing folder":
        params["parent_directory"] = asyncssh_server.url("nope")
    else:
        params["dump_directory"] = "sftp://tester@127.0.0.1:1/staging"
    report = tmp_path / "report.json"
    done = cli_run(lake, params, "--report", str(report))
    assert done.returncode == 2, done.stderr
    assert f"params.{field}" in done.stderr and message in done.stderr, done.stderr
    shown = done.stdout + done.stderr + (report.read_text() if report.exists() else "")
    assert "wr0ng-pa55word" not in shown and PASSWORD not in shown
    assert asyncssh_server.files("landing") == FILES
    assert asyncssh_server.files("staging") == {}


def test_a_password_in_the_url_is_refused(asyncssh_server, routine, run):
    with pytest.raises(RoutineError, match="must not hold a password") as raised:
        run(
            routine(
                parent_directory=f"sftp://tester:{PASSWORD}@127.0.0.1:{asyncssh_server.port}/l",
                dump_directory=asyncssh_server.url("staging"),
            )
        )
    assert PASSWORD not in str(raised.value)


def test_an_unknown_sftp_option_is_named(asyncssh_server, routine, run):
    with pytest.raises(RoutineError, match=r"storage_options\.sftp\.key_fiel"):
        run(
            routine(
                parent_directory=asyncssh_server.url("landing"),
                dump_directory=asyncssh_server.url("staging"),
                storage_options={"sftp": {"key_fiel": "x"}},
            )
        )


def test_by_default_the_keys_and_known_hosts_ssh_would_use(
    asyncssh_server, routine, run, tmp_path, monkeypatch
):
    """No options: the key in ~/.ssh and ~/.ssh/known_hosts log in, as `ssh` would."""
    import shutil

    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    shutil.copy(asyncssh_server.key_file, home / ".ssh" / "id_ed25519")
    shutil.copy(asyncssh_server.known_hosts, home / ".ssh" / "known_hosts")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    land(asyncssh_server)
    result = run(
        routine(
            parent_directory=asyncssh_server.url("landing"),
            dump_directory=asyncssh_server.url("staging"),
        )
    )
    assert result.status == "succeeded", result.tasks
    assert asyncssh_server.files("staging") == FILES


def test_host_key_checking_off_only_when_asked(asyncssh_server, routine, run, tmp_path):
    land(asyncssh_server)
    (tmp_path / "empty").write_text("")
    options = {"key_file": str(asyncssh_server.key_file), "known_hosts": str(tmp_path / "empty")}
    params = {
        "parent_directory": asyncssh_server.url("landing"),
        "dump_directory": asyncssh_server.url("staging"),
    }
    with pytest.raises(RoutineError, match="host key"):
        run(routine(**params, storage_options={"sftp": options}))
    unchecked = {**options, "check_host_keys": False}
    result = run(routine(**params, storage_options={"sftp": unchecked}))
    assert result.status == "succeeded", result.tasks
    assert asyncssh_server.files("staging") == FILES
