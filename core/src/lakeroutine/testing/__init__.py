"""pytest fixtures for lakeroutine and its plugins' tests.

Enable with ``pytest_plugins = ["lakeroutine.testing"]`` in a ``conftest.py``.

- ``lake``: a temporary folder with ``landing/``, ``staging/`` and a helper to write files.
- ``moto_endpoint``: moto's server on loopback (real HTTP), with fake credentials and
  ``AWS_ENDPOINT_URL`` set for the test, reset after it; yields the endpoint URL. Athena's
  rest-json paths are routed to moto (``moto_support.route_rest_paths``).
- ``run``: runs a routine dict or file with a fresh plugin registry and returns the result.
- ``unavailable_endpoint``: an endpoint answering every request 503, counting the attempts.
- ``aws_profile``: a named profile (own region and credentials) and no AWS variables set.

Helpers for crash tests: ``copy_or_die`` (a per-file transformation that SIGKILLs its own
process on the Nth file), ``copy_at_gate`` (one that holds a run until the test lets it go),
``kill_when`` (SIGKILL a subprocess once a condition holds),
``pause_when`` (SIGSTOP it likewise), ``wait_for`` (poll a condition),
``default_sigint`` (let a test Ctrl-C a subprocess even from a background shell),
``another_machine`` (go on from another working folder and HOME) and ``left_local_state``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing-access-key",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_SESSION_TOKEN": "testing-session-token",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class Lake:
    """A temporary lake: ``root``, ``landing`` and ``staging`` folders."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.landing = root / "landing"
        self.staging = root / "staging"
        self.landing.mkdir()

    def write(self, relpath: str, content: str | bytes) -> Path:
        path = self.landing / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
        return path

    def files(self, folder: Path) -> dict[str, bytes]:
        """Every file below ``folder`` by relative POSIX path (temporary files included)."""
        if not folder.exists():
            return {}
        return {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }

    def routine_file(self, routine: Mapping[str, Any], name: str = "routine.json") -> Path:
        path = self.root / name
        path.write_text(json.dumps(routine, indent=2))
        return path


def pytest_report_header(config: pytest.Config) -> list[str]:
    """A line at the top of the run for each AWS service moto cannot emulate here."""
    from lakeroutine.testing.moto_support import emulation_gaps

    return emulation_gaps()


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path)


@pytest.fixture(scope="session")
def _moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from lakeroutine.testing.moto_support import SERVICES, route_rest_paths

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for service in SERVICES:  # Athena: botocore 1.44.14+ speaks rest-json (moto_support)
        route_rest_paths(service)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_endpoint(_moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's server on loopback, with fake credentials in the environment; emulator state
    is reset after each test."""
    import urllib.request

    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", _moto_server)
    for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    try:
        yield _moto_server
    finally:
        request = urllib.request.Request(f"{_moto_server}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).read()


@pytest.fixture
def run() -> Callable[..., Any]:
    """``run(routine, **kwargs)``: run a routine (dict or path) with the installed plugins
    (and ``plugins=[...]`` registered in code) and return the RunResult."""
    from lakeroutine.orchestrator import run_routine
    from lakeroutine.plugins import load_plugins

    def runner(source: Any, *, plugins: list[Any] = (), **kwargs: Any) -> Any:  # type: ignore[assignment]
        registry = load_plugins(plugins=plugins)
        return run_routine(source, registry=registry, **kwargs)

    return runner


class UnavailableEndpoint:
    """A JSON-protocol AWS endpoint on loopback (Glue, Data API, Athena...) that answers every
    request 503 and counts them: how many attempts a client makes, over real HTTP. Each
    request is noted as its ``X-Amz-Target`` (json protocol) or ``METHOD /path`` (rest-json)."""

    def __init__(self) -> None:
        import http.server
        import threading

        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target")
                owner.requests.append(target or f"{self.command} {self.path}")
                body = b'{"__type": "ServiceUnavailableException", "message": "unavailable"}'
                self.send_response(503)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_DELETE = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.requests: list[str] = []
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def unavailable_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[UnavailableEndpoint]:
    """An ``UnavailableEndpoint``; botocore's retry back-off is made instant (the attempts
    are still real), fake credentials are set."""
    from botocore.retries.standard import ExponentialBackoff

    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    endpoint = UnavailableEndpoint()
    try:
        yield endpoint
    finally:
        endpoint.close()


TEST_AWS_PROFILE = {
    "name": "lakeroutine-test",
    "region": "eu-west-1",
    "aws_access_key_id": "profile-access-key",
    "aws_secret_access_key": "profile-secret-key",
    "aws_session_token": "profile-session-token",
}


@pytest.fixture
def aws_profile(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """A named AWS profile (``TEST_AWS_PROFILE``: its own region and credentials) in a
    config file, with the region and credential variables unset, so only ``profile_name``
    gives them; clients still go to moto. Returns the profile's values."""
    from lakeroutine.aws import session_for

    config = tmp_path / "aws-config"
    lines = [f"[profile {TEST_AWS_PROFILE['name']}]"]
    lines += [f"{key} = {value}" for key, value in TEST_AWS_PROFILE.items() if key != "name"]
    config.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for key in FAKE_AWS_ENV:
        if key != "AWS_EC2_METADATA_DISABLED":
            monkeypatch.delenv(key, raising=False)
    session_for.cache_clear()  # sessions are cached per profile: read this file afresh
    try:
        yield dict(TEST_AWS_PROFILE)
    finally:
        session_for.cache_clear()


def default_sigint() -> None:
    """A ``preexec_fn`` for subprocesses a test will Ctrl-C: restore SIGINT's default, which
    a shell running the tests in the background (CI, ``&``) sets to ignored for children."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


STAMP = b"\n#staged-at "  # what ``copy_or_die(stamp=True)`` appends, before a time


def copy_or_die(
    source: Path, target: Path, die_at: int | str = 0, counter: str = "", stamp: bool = False
) -> None:
    """A per-file transformation for crash tests, ``"lakeroutine.testing:copy_or_die"``: copy
    the file, but SIGKILL this very process on the ``die_at``-th file (0: never), counted
    across threads and runs in the file ``counter``. With ``stamp`` the copy ends with
    :data:`STAMP` and the time, as a load-time column would: no two runs write the same
    bytes (``unstamped`` gives the original back)."""
    import shutil
    import signal
    import time

    if int(die_at):
        fd = os.open(counter, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, b".")
        os.close(fd)
        if os.path.getsize(counter) >= int(die_at):
            os.kill(os.getpid(), signal.SIGKILL)
    shutil.copyfile(source, target)
    if stamp:
        with open(target, "ab") as handle:
            handle.write(STAMP + str(time.time_ns()).encode())


def copy_at_gate(source: Path, target: Path, gate: str = "", stamp: bool = False) -> None:
    """A per-file transformation for ordering tests, ``"lakeroutine.testing:copy_at_gate"``:
    as :func:`copy_or_die`, but once the folder ``gate`` holds ``armed``, the first file to
    get there (it creates ``arrived``) waits until ``open`` appears there: a test holds a
    run at that point of its transfer (its journal read, nothing written yet for the file)
    for as long as it needs, without a signal."""
    armed = gate and os.path.exists(os.path.join(gate, "armed"))
    if armed:
        try:
            os.close(os.open(os.path.join(gate, "arrived"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass  # another file got there first: this one goes on
        else:
            wait_for(lambda: os.path.exists(os.path.join(gate, "open")), timeout=600)
    copy_or_die(source, target, stamp=stamp)


def unstamped(content: bytes) -> bytes:
    """``content`` without the stamp ``copy_or_die(stamp=True)`` appended."""
    return content.rsplit(STAMP, 1)[0] if STAMP in content else content


def kill_when(process: Any, condition: Callable[[], bool], timeout: float = 60) -> bool:
    """SIGKILL a ``subprocess.Popen`` as soon as ``condition()`` holds; False if the process
    ended first (or ``timeout`` passed)."""
    import signal
    import time

    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if condition():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.001)
    process.wait()
    return False


def pause_when(process: Any, condition: Callable[[], bool], timeout: float = 60) -> bool:
    """SIGSTOP a ``subprocess.Popen`` as soon as ``condition()`` holds (SIGCONT resumes it);
    False if the process ended first (or ``timeout`` passed)."""
    import signal

    def pause() -> bool:
        if condition():
            process.send_signal(signal.SIGSTOP)
            return True
        return False

    return wait_for(pause, process, timeout)


def wait_for(condition: Callable[[], bool], process: Any = None, timeout: float = 120) -> bool:
    """Whether ``condition()`` came to hold within ``timeout`` seconds (polled; False at once
    if ``process`` ended first)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if process is not None and process.poll() is not None:
            return False
        time.sleep(0.001)
    return False


def another_machine(monkeypatch: pytest.MonkeyPatch, root: Path, name: str = "elsewhere") -> Path:
    """Stand in for another machine from here on: a new folder ``root/name`` as the working
    folder and HOME (undone after the test). Returns the folder."""
    folder = root / name
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("HOME", str(folder))
    return folder


def left_local_state(root: Path) -> list[Path]:
    """Every ``.lakeroutine`` folder below ``root`` (state a shared store should not leave)."""
    return [p for p in root.rglob(".lakeroutine") if p.is_dir()]
