"""Building the boto3 S3 client and turning its errors into clear messages.

boto3 is imported here, lazily, by :func:`build_client` only.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from lakeroutine.aws import credential_values, error_code, guard_library_logs
from lakeroutine.storage.base import StorageError

from lakeroutine_s3.settings import S3Settings

log = logging.getLogger("lakeroutine.s3")

NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
DENIED = {"403", "AccessDenied", "AllAccessDisabled", "Forbidden"}
BAD_CREDENTIALS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
}
PRECONDITION = {"412", "PreconditionFailed"}


class S3Client:
    """A thread-safe boto3 S3 client plus the credential values to keep out of messages."""

    def __init__(self, settings: S3Settings) -> None:
        import boto3
        import botocore.session
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        core = botocore.session.get_session()
        # Listings and copy answers carry ISO 8601 times: parse them without dateutil.
        parsers = core.get_component("response_parser_factory")
        parsers.set_parser_defaults(timestamp_parser=parse_timestamp)
        try:
            session = boto3.session.Session(
                botocore_session=core,
                profile_name=settings.profile_name,
                region_name=settings.region_name,
            )
        except BotoCoreError as exc:  # e.g. ProfileNotFound
            raise StorageError(f"cannot set up the S3 client: {exc}") from None
        config: dict[str, Any] = {"max_pool_connections": settings.max_pool_connections}
        pairs = (("mode", settings.retry_mode), ("total_max_attempts", settings.max_attempts))
        retries = {k: v for k, v in pairs if v is not None}
        if retries:  # otherwise AWS_RETRY_MODE / AWS_MAX_ATTEMPTS / the profile decide
            config["retries"] = retries
        for key in ("connect_timeout", "read_timeout"):
            if getattr(settings, key) is not None:
                config[key] = getattr(settings, key)
        if settings.addressing_style:
            config["s3"] = {"addressing_style": settings.addressing_style}
        self.session = session
        self.client = session.client(
            "s3", endpoint_url=settings.endpoint_url, config=Config(**config)
        )
        guard_library_logs(self.secrets())

    def secrets(self) -> list[str]:
        """The credential values in use (to scrub from any message), if any resolve."""
        return credential_values(self.session)

    def scrub(self, text: str) -> str:
        for secret in self.secrets():
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 times (``2026-11-24T08:00:00.000Z``) the fast way, others as botocore does."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, TypeError, ValueError):
        from botocore.utils import parse_timestamp as botocore_parse

        return botocore_parse(value)


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in NOT_FOUND


def is_precondition_failed(exc: BaseException) -> bool:
    return error_code(exc) in PRECONDITION


def location_error(exc: BaseException, bucket: str, client: S3Client | None) -> StorageError:
    """A clear StorageError for a failure to use ``bucket`` (never quoting credentials)."""
    from botocore.exceptions import (
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    code = error_code(exc)
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        message = (
            f"no AWS credentials found to use s3://{bucket} (set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the profile_name param)"
        )
    elif isinstance(exc, NoRegionError):
        message = f"no AWS region set for s3://{bucket} (set region_name or AWS_DEFAULT_REGION)"
    elif isinstance(exc, EndpointConnectionError):
        message = f"cannot reach the S3 endpoint for s3://{bucket}: {exc}"
    elif code in NOT_FOUND:
        message = f"bucket {bucket!r} does not exist"
    elif code in DENIED:
        message = f"access denied to s3://{bucket} (check the credentials' S3 permissions)"
    elif code in BAD_CREDENTIALS:
        message = f"the AWS credentials were refused for s3://{bucket} ({code})"
    else:
        message = f"cannot use s3://{bucket}: {type(exc).__name__}: {exc}"
    return StorageError(client.scrub(message) if client else message)
