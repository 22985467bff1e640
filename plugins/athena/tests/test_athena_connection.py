"""The connection params shared through lakeroutine.aws reach Athena's clients: a named
profile (its region and credentials), the retry mode and attempts; and the credentials in
use never appear in the DEBUG logs of a task run."""

from __future__ import annotations

import http.server
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lakeroutine.errors import RoutineError

ACCOUNT = "123456789012"

QUERY = {"task": "run_query", "args": {"sql": "SELECT 1"}}
PROFILE_SECRETS = {
    "aws_access_key_id": "AKIDPROFILELAKE0001",
    "aws_secret_access_key": "profile-secret-key-do-not-log",
    "aws_session_token": "profile-session-token-do-not-log",
}


@pytest.fixture
def profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A named profile in an AWS config file, with its own region and credentials."""
    from lakeroutine.aws import session_for

    config = tmp_path / "aws-config"
    lines = ["[profile lake_reader]", "region = eu-west-3"]
    lines += [f"{key} = {value}" for key, value in PROFILE_SECRETS.items()]
    config.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID"):
        monkeypatch.delenv(name)  # the region and credentials must come from the profile
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    session_for.cache_clear()  # sessions are cached per profile: read this config file
    yield "lake_reader"
    session_for.cache_clear()


def test_a_profile_gives_the_region_and_credentials(athena: Any, run, profile, caplog) -> None:
    from moto.athena.models import athena_backends

    caplog.set_level(logging.DEBUG)
    result = run(athena.routine(QUERY, profile_name=profile))
    assert result.status == "succeeded", result.tasks[0].error
    assert athena.executions == []  # not in the environment's region (us-east-1)
    (execution,) = athena_backends[ACCOUNT]["eu-west-3"].executions.values()
    assert execution.query == "SELECT 1"
    # the profile's credentials (the only ones) signed the calls, and no log line shows them
    assert "X-Amz-Security-Token" in caplog.text and "Credential=***/" in caplog.text
    for secret in PROFILE_SECRETS.values():
        assert secret not in caplog.text


def test_environment_credentials_stay_out_of_debug_logs(athena: Any, run, caplog) -> None:
    from lakeroutine.testing import FAKE_AWS_ENV

    caplog.set_level(logging.DEBUG)
    result = run(athena.routine(QUERY))
    assert result.status == "succeeded", result.tasks[0].error
    assert "X-Amz-Security-Token" in caplog.text and "Authorization" in caplog.text
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert FAKE_AWS_ENV[name] not in caplog.text, name


class _FailingAthena(http.server.BaseHTTPRequestHandler):
    """An endpoint that answers every call with HTTP 500, counting the calls."""

    calls: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.calls.append(self.headers.get("X-Amz-Target", ""))
        body = b'{"__type": "InternalServerException", "Message": "try again"}'
        self.send_response(500)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def failing_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A failing endpoint on loopback; botocore's back-off between retries made instant
    (the retries themselves stay real)."""
    import botocore.retries.standard

    monkeypatch.setattr(
        botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0
    )
    monkeypatch.setattr("botocore.retryhandler.delay_exponential", lambda **kwargs: 0)
    calls: list[str] = []
    handler = type("Handler", (_FailingAthena,), {"calls": calls})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_port}")
    try:
        yield calls
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("mode", "attempts", "retry_logger"),
    [
        ("standard", 2, "botocore.retries.standard"),
        ("standard", 4, "botocore.retries.standard"),
        ("legacy", 3, "botocore.retryhandler"),
    ],
)
def test_retry_mode_and_attempts_reach_the_client(
    athena: Any,
    run,
    failing_endpoint: list[str],
    caplog,
    mode: str,
    attempts: int,
    retry_logger: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RoutineError) as info:  # the preflight's GetWorkGroup never succeeds
        run(athena.routine(QUERY, retry_mode=mode, max_attempts=attempts))
    assert info.value.field == "params.workgroup" and "try again" in info.value.message
    assert failing_endpoint == ["AmazonAthena.GetWorkGroup"] * attempts
    assert any(r.name == retry_logger for r in caplog.records)
    assert athena.executions == []


def test_connection_problems_name_the_param(athena: Any, run, monkeypatch) -> None:
    with pytest.raises(RoutineError) as info:
        run(athena.routine(QUERY, profile_name="no_such_profile"))
    assert info.value.field == "params.profile_name"
    assert "no_such_profile" in info.value.message
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name)
    with pytest.raises(RoutineError) as info:
        run(athena.routine(QUERY))
    assert info.value.field == "params.region_name" and "region" in info.value.message
    assert athena.executions == []
