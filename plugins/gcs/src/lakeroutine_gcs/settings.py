"""The GCS storage's options: the ``gs`` section of the StagingExecutor's ``storage_options``.

Options of other storages (flat S3 keys, other sections) are not this plugin's and are left
alone; an unknown key inside the ``gs`` section is an error naming it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MiB = 1024 * 1024
SECTION = "gs"


class GcsSettings(BaseModel):
    """How the GCS client is built and how large objects are moved."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project: str | None = Field(None, description="Project for the client (default: ADC's)")
    credentials_file: str | None = Field(
        None,
        description="A service-account JSON key file (default: GOOGLE_APPLICATION_CREDENTIALS, "
        "then application default credentials)",
    )
    multipart_threshold: int = Field(8 * MiB, ge=1, le=8 * MiB)
    chunk_size: int = Field(16 * MiB, ge=256 * 1024, le=1024 * MiB)
    download_chunk_size: int = Field(32 * MiB, ge=MiB)
    transfer_concurrency: int = Field(8, ge=1, le=64)
    max_pool_connections: int = Field(128, ge=1, le=1024)
    timeout: float = Field(60, gt=0)
    list_page_size: int = Field(1000, ge=1, le=1000, description="Names per listing page")
    retry_initial_delay: float = Field(1.0, ge=0, description="Seconds before the first retry")
    retry_deadline: float = Field(120, gt=0, description="Seconds to keep retrying a request")

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> GcsSettings:
        """Validate the ``gs`` section; a ValueError names each bad or unknown option."""
        section = options.get(SECTION) or {}
        if not isinstance(section, dict):
            raise ValueError(f"storage_options.{SECTION} must be an object of GCS options")
        try:
            return cls(**{k: v for k, v in section.items() if v is not None})
        except ValidationError as exc:
            problems = "; ".join(
                f"storage_options.{SECTION}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in exc.errors(include_input=False)
            )
            known = ", ".join(sorted(cls.model_fields))
            raise ValueError(f"invalid gs storage options ({problems}); known: {known}") from None
