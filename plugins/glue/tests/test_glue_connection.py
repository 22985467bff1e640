"""The GlueExecutor connects as ``lakeroutine.aws.AwsConnection`` says: a named profile's
region and credentials, the retry settings (counted as real HTTP attempts), and no
credential in the DEBUG log of a run."""

from __future__ import annotations

import logging
from typing import Any

import pytest


def test_profile_name_gives_the_region_and_credentials(
    run: Any, glue_routine: Any, aws_profile: dict[str, str], caplog: Any
) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.glue.models import glue_backends

    with caplog.at_level(logging.DEBUG):
        result = run(glue_routine(["create_database"], profile_name=aws_profile["name"]))
    assert result.status == "succeeded", result.tasks[0].error
    assert "lake" in glue_backends[DEFAULT_ACCOUNT_ID][aws_profile["region"]].databases
    assert "lake" not in glue_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].databases
    assert "authorization" in caplog.text.lower()  # botocore did log the signed request
    for key in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token"):
        assert aws_profile[key] not in caplog.text


def test_an_unknown_profile_fails_the_task_naming_it(
    run: Any, glue_routine: Any, aws_profile: dict[str, str]
) -> None:
    result = run(glue_routine(["create_database"], profile_name="no-such-profile"))
    assert result.status == "failed"
    assert "no-such-profile" in result.tasks[0].error


@pytest.mark.parametrize("attempts", [1, 3])
def test_retry_settings_reach_the_client(
    run: Any, glue_routine: Any, unavailable_endpoint: Any, attempts: int
) -> None:
    routine = glue_routine(
        ["create_database"],
        endpoint_url=unavailable_endpoint.url,
        retry_mode="standard",
        max_attempts=attempts,
    )
    result = run(routine)
    assert result.status == "failed"
    assert unavailable_endpoint.requests == ["AWSGlue.CreateDatabase"] * attempts
