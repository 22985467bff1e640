"""The SFTP storage's options: the ``sftp`` section of the StagingExecutor's
``storage_options``. Other storages' options are left alone; an unknown key inside the
``sftp`` section is an error naming it. Secrets are ``SecretStr`` (never shown)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

SECTION = "sftp"


class SftpSettings(BaseModel):
    """How to log in, how host keys are checked, and how bytes are moved.

    By default: the keys, agent, ``~/.ssh/config`` and ``~/.ssh/known_hosts`` that ``ssh``
    itself would use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str | None = Field(None, description="Login, if the URL has no user@")
    password: SecretStr | None = Field(None, description="A password (give it as ${env:...})")
    key_file: str | None = Field(None, description="A private key file to log in with")
    passphrase: SecretStr | None = Field(None, description="The key file's passphrase")
    known_hosts: str | None = Field(None, description="A known_hosts file (default: ssh's)")
    check_host_keys: bool = Field(
        True, description="Check the server's host key; false turns the check off (unsafe)"
    )
    block_size: int = Field(256 * 1024, ge=4096, le=4 * 1024 * 1024)
    max_requests: int = Field(16, ge=1, le=128, description="Requests in flight per file")
    channels: int = Field(
        4,
        ge=1,
        le=64,
        description="SFTP sessions per connection (files moved at once use them in turn)",
    )
    connect_timeout: float = Field(20, gt=0)
    list_chunk: int = Field(1000, ge=1, le=100_000, description="Names read from a folder at once")

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SftpSettings:
        """Validate the ``sftp`` section; a ValueError names each bad or unknown option
        (never its value)."""
        section = options.get(SECTION) or {}
        if not isinstance(section, dict):
            raise ValueError(f"storage_options.{SECTION} must be an object of SFTP options")
        try:
            return cls(**{k: v for k, v in section.items() if v is not None})
        except ValidationError as exc:
            problems = "; ".join(
                f"storage_options.{SECTION}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in exc.errors(include_input=False)
            )
            known = ", ".join(sorted(cls.model_fields))
            raise ValueError(f"invalid sftp storage options ({problems}); known: {known}") from None

    def secrets(self) -> list[str]:
        """Secret values given (to keep out of every message)."""
        values = [self.password, self.passphrase]
        return [v.get_secret_value() for v in values if v is not None]
