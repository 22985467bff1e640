"""Building the google-cloud-storage client and turning its errors into clear messages.

google-cloud-storage is imported here, lazily, by :class:`GcsClient` only. Credentials are
found as Google's libraries find them (``credentials_file``, ``GOOGLE_APPLICATION_CREDENTIALS``,
application default credentials); ``STORAGE_EMULATOR_HOST`` points the client at an emulator.
"""

from __future__ import annotations

import logging
from typing import Any

from lakeroutine.service_errors import service_error_text
from lakeroutine.storage.base import StorageError
from lakeroutine.storage.http_session import settle_environment

from lakeroutine_gcs.settings import GcsSettings

log = logging.getLogger("lakeroutine.gcs")


class GcsClient:
    """A thread-safe ``google.cloud.storage.Client`` with a connection pool for
    ``max_pool_connections`` concurrent requests, reading the environment (proxies, CA
    bundle) once rather than at each request."""

    def __init__(self, settings: GcsSettings) -> None:
        from google.auth.exceptions import DefaultCredentialsError
        from google.cloud import storage
        from requests.adapters import HTTPAdapter

        try:
            if settings.credentials_file:
                client = storage.Client.from_service_account_json(
                    settings.credentials_file, project=settings.project
                )
            else:
                client = storage.Client(project=settings.project)
        except DefaultCredentialsError:
            raise StorageError(
                "no Google Cloud credentials found (set GOOGLE_APPLICATION_CREDENTIALS, run "
                "`gcloud auth application-default login`, or give storage_options.gs."
                "credentials_file)"
            ) from None
        except (OSError, ValueError) as exc:
            raise StorageError(
                f"cannot read the credentials file storage_options.gs.credentials_file: "
                f"{type(exc).__name__}"
            ) from None
        adapter = HTTPAdapter(
            pool_connections=4, pool_maxsize=settings.max_pool_connections, max_retries=0
        )
        client._http.mount("https://", adapter)
        client._http.mount("http://", adapter)
        settle_environment(client._http, client._connection.API_BASE_URL)
        self.client = client
        self.timeout = settings.timeout

    def bucket(self, name: str) -> Any:
        """A bucket handle (no request)."""
        return self.client.bucket(name)


def retry(settings: GcsSettings) -> Any:
    """The library's default retry (5xx, 429, dropped connections) with our delays, for
    every call: our writes are safe to repeat (create-only and generation-pinned ones by
    their condition)."""
    from google.cloud.storage.retry import DEFAULT_RETRY

    delayed = DEFAULT_RETRY.with_delay(initial=settings.retry_initial_delay)
    return delayed.with_timeout(settings.retry_deadline)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a google-api-core error, else None."""
    code = getattr(exc, "code", None)
    return int(code) if isinstance(code, int) else None


def is_not_found(exc: BaseException) -> bool:
    """Whether a google-api-core error is a 404."""
    return status_of(exc) == 404


def is_precondition_failed(exc: BaseException) -> bool:
    """Whether a google-api-core error is a 412 (a precondition refused)."""
    return status_of(exc) == 412


def location_error(exc: BaseException, bucket: str) -> StorageError:
    """A clear StorageError for a failure to use ``bucket`` (never quoting credentials)."""
    from google.auth.exceptions import (
        DefaultCredentialsError,
        InvalidOperation,
        RefreshError,
        TransportError,
    )

    status = status_of(exc)
    if isinstance(exc, StorageError):
        return exc
    # A 401 makes the client refresh its credentials: RefreshError, or InvalidOperation
    # for credentials that cannot be refreshed (anonymous, as with an emulator).
    if isinstance(exc, (RefreshError, InvalidOperation)) or status == 401:
        message = f"the Google Cloud credentials were refused for gs://{bucket}"
    elif isinstance(exc, DefaultCredentialsError):
        message = (
            f"no Google Cloud credentials found to use gs://{bucket} (set "
            "GOOGLE_APPLICATION_CREDENTIALS or give storage_options.gs.credentials_file)"
        )
    elif isinstance(exc, (TransportError, ConnectionError)):
        message = f"cannot reach Google Cloud Storage for gs://{bucket}: {type(exc).__name__}"
    elif status == 404:
        message = f"bucket {bucket!r} does not exist"
    elif status == 403:
        message = f"access denied to gs://{bucket} (check the credentials' storage permissions)"
    else:
        message = f"cannot use gs://{bucket}: {type(exc).__name__}: {service_error_text(exc)}"
    return StorageError(message)
