"""Building the azure-storage-blob client and turning its errors into clear messages.

azure-storage-blob is imported here, lazily. The account comes from the ``az`` options
(``account_url`` or ``account_name`` with ``account_key`` or ``sas_token``, or a
``connection_string``), else ``AZURE_STORAGE_CONNECTION_STRING``, else ``account_url`` with
``DefaultAzureCredential`` where azure-identity is installed. Account keys, SAS tokens and
connection strings are masked in every message and in the Azure libraries' logs.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from lakeroutine import redact
from lakeroutine.service_errors import service_error_text
from lakeroutine.storage.base import StorageError
from lakeroutine.storage.http_session import settle_environment

from lakeroutine_azure.settings import AzureSettings

log = logging.getLogger("lakeroutine.azure")
ENV = "AZURE_STORAGE_CONNECTION_STRING"
_SECRET_PARTS = re.compile(r"(AccountKey|SharedAccessSignature|sig)=([^;&\s]+)", re.I)


def guard_logs(secrets: list[str]) -> None:
    """Mask ``secrets`` wherever text leaves the process (lakeroutine's registry), the Azure
    SDK's own logs (its HTTP logging) included."""
    redact.remember(secrets)
    redact.guard_loggers(("azure", "urllib3"))


def secret_parts(text: str) -> list[str]:
    """The key and signature values inside a connection string or SAS token."""
    return [m.group(2) for m in _SECRET_PARTS.finditer(text)]


class AzureClient:
    """A ``BlobServiceClient`` for the configured account, pooled for concurrent requests,
    reading the environment (proxies, CA bundle) once rather than at each request."""

    def __init__(self, settings: AzureSettings) -> None:
        import requests
        from azure.core.pipeline.transport import RequestsTransport
        from azure.storage.blob import BlobServiceClient, ExponentialRetry
        from requests.adapters import HTTPAdapter

        session = requests.Session()
        adapter = HTTPAdapter(pool_maxsize=settings.max_pool_connections, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        common = {
            "transport": RequestsTransport(session=session, session_owner=False),
            "max_single_put_size": settings.max_single_put_size,
            "max_block_size": settings.max_block_size,
            "connection_timeout": 20,
            "read_timeout": settings.timeout,
            "retry_policy": ExponentialRetry(
                initial_backoff=settings.retry_initial_backoff,  # type: ignore[arg-type]
                increment_base=settings.retry_increment_base,  # type: ignore[arg-type]
                retry_total=settings.retry_total,
                retry_connect=settings.retry_total,  # each kind may use all the retries
                retry_read=settings.retry_total,
                retry_status=settings.retry_total,
                random_jitter_range=min(3, settings.retry_initial_backoff),  # type: ignore[arg-type]
            ),
        }
        self.secrets = settings.secrets()
        connection = (
            settings.connection_string.get_secret_value() if settings.connection_string else None
        )
        url = settings.account_url or (
            f"https://{settings.account_name}.blob.core.windows.net"
            if settings.account_name
            else None
        )
        try:
            if url and (settings.account_key or settings.sas_token):
                secret = settings.account_key or settings.sas_token
                assert secret is not None
                credential: Any = secret.get_secret_value()
                if settings.account_key:
                    name = settings.account_name or _account_of(url)
                    credential = {"account_name": name, "account_key": credential}
                self.service = BlobServiceClient(url, credential=credential, **common)
            elif connection or (not url and os.environ.get(ENV)):
                connection = connection or os.environ[ENV]
                self.secrets += [connection, *secret_parts(connection)]
                guard_logs(self.secrets)
                self.service = BlobServiceClient.from_connection_string(connection, **common)
            elif url:
                self.service = BlobServiceClient(url, credential=_default_credential(), **common)
            else:
                raise StorageError(
                    "no Azure account given: set storage_options.az.account_url (or "
                    f"account_name), storage_options.az.connection_string, or {ENV}"
                )
        except ValueError as exc:  # a malformed connection string or URL
            raise StorageError(self.scrub(f"invalid Azure account settings: {exc}")) from None
        self.secrets += [
            p for s in settings.secrets() for p in secret_parts(s) if p not in self.secrets
        ]
        guard_logs(self.secrets)
        settle_environment(session, self.service.url)

    def container(self, name: str) -> Any:
        """A container client (no request)."""
        return self.service.get_container_client(name)

    def scrub(self, text: str) -> str:
        """``text`` with every secret of this account masked."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return _SECRET_PARTS.sub(lambda m: f"{m.group(1)}=***", text)


def _account_of(url: str) -> str:
    host = url.split("://", 1)[-1].split("/", 1)[0]
    if host.endswith(".blob.core.windows.net"):
        return host.split(".", 1)[0]
    return url.rstrip("/").rsplit("/", 1)[-1]  # emulators: http://host:port/ACCOUNT


def _default_credential() -> Any:
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise StorageError(
            "no Azure credential given: set storage_options.az.account_key or sas_token, a "
            f"connection string ({ENV}), or install azure-identity (pip install "
            "'lakeroutine-azure[identity]') to use DefaultAzureCredential"
        ) from None
    return DefaultAzureCredential()


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an Azure SDK error, else None."""
    code = getattr(exc, "status_code", None)
    return int(code) if isinstance(code, int) else None


def error_code(exc: BaseException) -> str:
    """The Azure error code of an SDK error (``BlobNotFound``...), else ''."""
    return str(getattr(exc, "error_code", "") or "")


def location_error(exc: BaseException, container: str, client: AzureClient | None) -> StorageError:
    """A clear StorageError for a failure to use ``container`` (never quoting secrets)."""
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

    status = status_of(exc)
    if isinstance(exc, StorageError):
        return exc
    # A bad key or token: 403 AuthenticationFailed (Azurite: AuthorizationFailure, "Server
    # failed to authenticate the request").
    refused = status == 403 and (
        "AuthenticationFailed" in error_code(exc) or "failed to authenticate" in str(exc)
    )
    if isinstance(exc, ClientAuthenticationError) or status == 401 or refused:
        message = f"the Azure credentials were refused for az://{container}"
    elif isinstance(exc, ServiceRequestError):
        message = f"cannot reach the Azure Blob endpoint for az://{container}"
    elif status == 404:
        message = f"container {container!r} does not exist"
    elif status == 403:
        message = f"access denied to az://{container} (check the credential's permissions)"
    else:
        message = f"cannot use az://{container}: {type(exc).__name__}: {service_error_text(exc)}"
    return StorageError(client.scrub(message) if client else message)
