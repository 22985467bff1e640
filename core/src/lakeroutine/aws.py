"""Connecting to AWS, shared by every AWS executor: connection params and boto3 clients.

Anything a routine leaves unset falls back to the standard AWS environment
(``AWS_PROFILE``, ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``, ``AWS_RETRY_MODE``,
``AWS_MAX_ATTEMPTS``, the config files). boto3 is imported only when a client is made, so
validating a routine stays light. Credential values in use are masked in what boto3,
botocore and urllib3 log (botocore logs signed headers at DEBUG).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator

from lakeroutine.executor import Executor, Params
from lakeroutine.redact import guard_loggers, remember

LIBRARY_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3")


class AwsConnection(Params):
    """Where and as whom an AWS executor connects. Subclass it for an executor's params."""

    region_name: str | None = Field(None, description="AWS region (default: the environment's)")
    profile_name: str | None = Field(None, description="AWS profile (default: the environment's)")
    endpoint_url: str | None = Field(
        None, description="Service endpoint (a VPC endpoint, or a local emulator)"
    )
    retry_mode: Literal["legacy", "standard", "adaptive"] | None = Field(
        None, description="botocore retry mode (default: AWS_RETRY_MODE or the profile's)"
    )
    max_attempts: int | None = Field(
        None, ge=1, le=100, description="Attempts per call (default: AWS_MAX_ATTEMPTS or 3)"
    )

    @field_validator("endpoint_url")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class AwsExecutor(Executor):
    """Base of executors that talk to one AWS service (``service``, a boto3 name): their
    params subclass :class:`AwsConnection`, and ``self.client`` is made on first use."""

    service: ClassVar[str]
    params: AwsConnection

    @classmethod
    def needs_network(cls, params: BaseModel) -> bool:
        """An AWS executor's checks ask the service: ``--offline`` skips them."""
        return True

    @functools.cached_property
    def client(self) -> Any:
        """The boto3 client of ``service`` (boto3 is imported now, not at load)."""
        return make_client(self.service, self.params)


@functools.lru_cache(maxsize=8)
def session_for(profile_name: str | None, region_name: str | None) -> Any:
    """One boto3 session per profile and region: a session loads each service model once
    (about 0.2 s), and clients made from one session share its credential cache."""
    import boto3

    return boto3.session.Session(profile_name=profile_name, region_name=region_name)


def make_client(service: str, connection: AwsConnection, **config: Any) -> Any:
    """A boto3 client for ``service`` as ``connection`` says; ``config`` goes to botocore's
    ``Config`` (timeouts, pool size). Credentials it uses are masked in library logs."""
    from botocore.config import Config

    retries = {
        key: value
        for key, value in (
            ("mode", connection.retry_mode),
            ("total_max_attempts", connection.max_attempts),
        )
        if value is not None
    }
    if retries:  # otherwise AWS_RETRY_MODE / AWS_MAX_ATTEMPTS / the profile decide
        config["retries"] = retries
    session = session_for(connection.profile_name, connection.region_name)
    client = session.client(service, endpoint_url=connection.endpoint_url, config=Config(**config))
    guard_library_logs(credential_values(session))
    return client


def credential_values(session: Any) -> list[str]:
    """The credential values a session resolves to (to keep out of any message), if any."""
    try:
        credentials = session.get_credentials()
    except Exception:
        return []
    if credentials is None:
        return []
    frozen = credentials.get_frozen_credentials()
    return [v for v in (frozen.access_key, frozen.secret_key, frozen.token) if v]


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError (or its HTTP status), else ''."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    code = str(response.get("Error", {}).get("Code", ""))
    return code or str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def connection_param(exc: BaseException) -> str | None:
    """The :class:`AwsConnection` param to look at when botocore could not make or send a
    call (no region, unknown profile, no credentials, endpoint unreachable), else None."""
    from botocore import exceptions

    if isinstance(exc, exceptions.NoRegionError):
        return "region_name"
    if isinstance(exc, (exceptions.ProfileNotFound, exceptions.NoCredentialsError)):
        return "profile_name"
    if isinstance(exc, exceptions.EndpointConnectionError):
        return "endpoint_url"
    return None


def guard_library_logs(secrets: list[str]) -> None:
    """Mask ``secrets`` in what boto3, botocore and urllib3 log."""
    remember(secrets)
    guard_loggers(LIBRARY_LOGGERS)
