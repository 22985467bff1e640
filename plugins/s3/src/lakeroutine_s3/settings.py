"""The S3 storage's options: the StagingExecutor's client params plus ``storage_options``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MiB = 1024 * 1024
GiB = 1024 * MiB
MIN_PART = 5 * MiB  # S3's smallest part (but the last)
MAX_COPY = 5 * GiB  # S3's largest CopyObject / UploadPartCopy


class S3Settings(BaseModel):
    """How the S3 client is built and how large objects are moved.

    Anything left unset falls back to the standard AWS environment (``AWS_PROFILE``,
    ``AWS_ENDPOINT_URL``, ``AWS_RETRY_MODE``, ``AWS_MAX_ATTEMPTS``, config files)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region_name: str | None = None
    profile_name: str | None = None
    endpoint_url: str | None = None
    addressing_style: Literal["auto", "path", "virtual"] | None = None
    retry_mode: Literal["legacy", "standard", "adaptive"] | None = None
    max_attempts: int | None = Field(None, ge=1, le=100)
    connect_timeout: float | None = Field(None, gt=0)
    read_timeout: float | None = Field(None, gt=0)
    max_pool_connections: int = Field(128, ge=1, le=1024)  # max_workers is at most 128
    multipart_threshold: int = Field(64 * MiB, ge=MIN_PART, le=MAX_COPY)
    multipart_chunksize: int = Field(16 * MiB, ge=MIN_PART, le=MAX_COPY)
    multipart_copy_threshold: int = Field(512 * MiB, ge=MIN_PART, le=MAX_COPY)
    multipart_copy_part_size: int = Field(256 * MiB, ge=MIN_PART, le=MAX_COPY)
    multipart_concurrency: int = Field(8, ge=1, le=64)
    check_absent_before_copy: bool = Field(
        False,
        description="Before a create-only copy, HEAD the target as well as sending "
        "IfNoneMatch: AWS S3 enforces the condition on CopyObject; turn this on for servers "
        "that ignore it (moto, some S3-compatible stores)",
    )

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> S3Settings:
        """Validate options; a ValueError names each bad or unknown option."""
        # Objects are other storages' sections ({"sftp": {...}} in a routine mixing them).
        clean = {k: v for k, v in options.items() if v is not None and not isinstance(v, dict)}
        try:
            return cls(**clean)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}"
                for err in exc.errors()
            )
            known = ", ".join(sorted(cls.model_fields))
            raise ValueError(f"invalid s3 storage options ({problems}); known: {known}") from None
