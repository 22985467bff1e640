"""Shared AWS connection: params, clients over moto's server, credentials kept out of logs."""

from __future__ import annotations

import logging

import pytest
from lakeroutine.aws import AwsConnection, make_client
from lakeroutine.testing import FAKE_AWS_ENV
from pydantic import ValidationError


def test_connection_params_are_validated():
    with pytest.raises(ValidationError, match="http:// or https://"):
        AwsConnection(endpoint_url="localhost:4566")
    with pytest.raises(ValidationError, match="retry_mode"):
        AwsConnection(retry_mode="eager")


def test_client_uses_the_endpoint_region_and_retry_settings(moto_endpoint, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    connection = AwsConnection(
        region_name="eu-west-1", endpoint_url=moto_endpoint, retry_mode="adaptive", max_attempts=7
    )
    client = make_client("s3", connection)
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == moto_endpoint
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 7}
    client.create_bucket(
        Bucket="lake-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    assert [b["Name"] for b in client.list_buckets()["Buckets"]] == ["lake-bucket"]


def test_unset_retry_settings_leave_the_environment_in_charge(moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "9")
    client = make_client("s3", AwsConnection())
    assert client.meta.config.retries.get("mode") == "standard"
    assert client.meta.config.retries.get("total_max_attempts") == 9


def test_credentials_never_reach_library_debug_logs(moto_endpoint, caplog):
    client = make_client("sts", AwsConnection())
    with caplog.at_level(logging.DEBUG):
        client.get_caller_identity()
    assert "Authorization" in caplog.text or "authorization" in caplog.text.lower()
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert FAKE_AWS_ENV[name] not in caplog.text
