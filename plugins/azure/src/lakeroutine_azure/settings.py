"""The Azure storage's options: the ``az`` section of the StagingExecutor's
``storage_options``. Other storages' options are left alone; an unknown key inside the
``az`` section is an error naming it. Secrets are ``SecretStr`` (never shown)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

MiB = 1024 * 1024
SECTION = "az"


class AzureSettings(BaseModel):
    """Which account, with which credential, and how large blobs are moved."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connection_string: SecretStr | None = Field(
        None, description="A connection string (default: AZURE_STORAGE_CONNECTION_STRING)"
    )
    account_url: str | None = Field(None, description="https://ACCOUNT.blob.core.windows.net")
    account_name: str | None = Field(None, description="The account, if account_url is not given")
    account_key: SecretStr | None = Field(None, description="A shared key for the account")
    sas_token: SecretStr | None = Field(None, description="A SAS token for the account")
    max_single_put_size: int = Field(8 * MiB, ge=1, le=256 * MiB)
    max_block_size: int = Field(8 * MiB, ge=64 * 1024, le=100 * MiB)
    transfer_concurrency: int = Field(8, ge=1, le=64)
    max_pool_connections: int = Field(128, ge=1, le=1024)
    timeout: float = Field(60, gt=0)
    list_page_size: int = Field(1000, ge=1, le=5000, description="Names per listing page")
    retry_total: int = Field(5, ge=0, le=100, description="Retries of a failed request")
    retry_initial_backoff: float = Field(2, ge=0, description="Seconds before the first retry")
    retry_increment_base: float = Field(2, ge=0, description="Back-off growth (base^attempt)")

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> AzureSettings:
        """Validate the ``az`` section; a ValueError names each bad or unknown option (never
        its value)."""
        section = options.get(SECTION) or {}
        if not isinstance(section, dict):
            raise ValueError(f"storage_options.{SECTION} must be an object of Azure options")
        try:
            return cls(**{k: v for k, v in section.items() if v is not None})
        except ValidationError as exc:
            problems = "; ".join(
                f"storage_options.{SECTION}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in exc.errors(include_input=False)
            )
            known = ", ".join(sorted(cls.model_fields))
            raise ValueError(f"invalid az storage options ({problems}); known: {known}") from None

    def secrets(self) -> list[str]:
        """Secret values given (to keep out of every message)."""
        values = [self.connection_string, self.account_key, self.sas_token]
        return [v.get_secret_value() for v in values if v is not None]
