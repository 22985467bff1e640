"""The RedshiftExecutor connects as ``lakeroutine.aws.AwsConnection`` says: a named
profile's region and credentials, the retry settings (counted as real HTTP attempts), and
no credential in the DEBUG log of a run."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from lakeroutine_redshift.emulator import DataApiEmulator

SCHEMA = {"task": "create_schema", "args": {"schema": "lake"}}


def test_profile_name_gives_the_region_and_credentials(
    run: Any, rs_routine: Any, aws_profile: dict[str, str], caplog: Any
) -> None:
    with (
        DataApiEmulator(region=aws_profile["region"]) as there,
        DataApiEmulator(region="us-east-1") as default_region,
        caplog.at_level(logging.DEBUG),
    ):
        result = run(rs_routine([SCHEMA], profile_name=aws_profile["name"]))
    assert result.status == "succeeded", result.tasks[0].error
    assert there.sql == ['CREATE SCHEMA IF NOT EXISTS "lake"']
    assert default_region.statements == []
    assert "authorization" in caplog.text.lower()  # botocore did log the signed request
    for key in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token"):
        assert aws_profile[key] not in caplog.text


@pytest.mark.parametrize("attempts", [1, 3])
def test_retry_settings_reach_the_client(
    run: Any, rs_routine: Any, unavailable_endpoint: Any, attempts: int
) -> None:
    routine = rs_routine(
        [SCHEMA],
        endpoint_url=unavailable_endpoint.url,
        retry_mode="standard",
        max_attempts=attempts,
    )
    result = run(routine)
    assert result.status == "failed"
    assert unavailable_endpoint.requests == ["RedshiftData.ExecuteStatement"] * attempts
