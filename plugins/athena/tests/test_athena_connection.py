"""The connection params shared through lakeroutine.aws reach Athena's clients: a named
profile (its region and credentials), the retry mode and attempts; and the credentials in
use never appear in the DEBUG logs of a task run."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from lakeroutine.errors import RoutineError

ACCOUNT = "123456789012"

QUERY = {"task": "run_query", "args": {"sql": "SELECT 1"}}


def test_a_profile_gives_the_region_and_credentials(athena: Any, run, aws_profile, caplog) -> None:
    from moto.athena.models import athena_backends

    caplog.set_level(logging.DEBUG)
    result = run(athena.routine(QUERY, profile_name=aws_profile["name"]))
    assert result.status == "succeeded", result.tasks[0].error
    assert athena.executions == []  # not in the environment's region (us-east-1)
    (execution,) = athena_backends[ACCOUNT][aws_profile["region"]].executions.values()
    assert execution.query == "SELECT 1"
    # the profile's credentials (the only ones) signed the calls, and no log line shows them
    assert "X-Amz-Security-Token" in caplog.text and "Credential=***/" in caplog.text
    for key in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token"):
        assert aws_profile[key] not in caplog.text, key


def test_environment_credentials_stay_out_of_debug_logs(athena: Any, run, caplog) -> None:
    from lakeroutine.testing import FAKE_AWS_ENV

    caplog.set_level(logging.DEBUG)
    result = run(athena.routine(QUERY))
    assert result.status == "succeeded", result.tasks[0].error
    assert "X-Amz-Security-Token" in caplog.text and "Authorization" in caplog.text
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert FAKE_AWS_ENV[name] not in caplog.text, name


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
    unavailable_endpoint: Any,
    monkeypatch,
    caplog,
    mode: str,
    attempts: int,
    retry_logger: str,
) -> None:
    monkeypatch.setattr("botocore.retryhandler.delay_exponential", lambda **kwargs: 0)  # legacy
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RoutineError) as info:  # the preflight's GetWorkGroup never succeeds
        run(
            athena.routine(
                QUERY, endpoint_url=unavailable_endpoint.url, retry_mode=mode, max_attempts=attempts
            )
        )
    assert info.value.field == "params.workgroup" and "unavailable" in info.value.message
    assert unavailable_endpoint.requests == ["GET /workgroups/primary"] * attempts  # rest-json
    assert any(r.name == retry_logger for r in caplog.records)
    assert athena.executions == []


def test_connection_problems_name_the_param(athena: Any, run, monkeypatch) -> None:
    with pytest.raises(RoutineError) as info:
        run(athena.routine(QUERY, profile_name="no_such_profile"))
    assert info.value.field == "params.profile_name"
    assert "no_such_profile" in info.value.message
    with pytest.raises(RoutineError) as info:  # nothing listens there: connection refused
        run(athena.routine(QUERY, endpoint_url="http://127.0.0.1:9", max_attempts=1))
    assert info.value.field == "params.endpoint_url" and "127.0.0.1:9" in info.value.message
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name)
    with pytest.raises(RoutineError) as info:
        run(athena.routine(QUERY))
    assert info.value.field == "params.region_name" and "region" in info.value.message
    assert athena.executions == []
