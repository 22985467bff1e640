"""Field types for executor params and task args that know about the routine file.

Validation runs with a context (``base_dir``: the routine file's folder; ``storages``: the
storage registry), so relative paths resolve against the routine file and a URL whose
scheme no plugin serves is an error naming the package to install.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base_dir") or os.getcwd())


def resolve_location(value: str, info: ValidationInfo) -> str:
    """A local path made absolute against the routine's folder, or a URL whose scheme an
    installed storage plugin serves. A trailing slash is kept (scripts may rely on it)."""
    from lakeroutine.storage.registry import scheme_of

    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty path or URL")
    scheme = scheme_of(value)
    if scheme == "file":
        raw = value[len("file://") :] if value.startswith("file://") else value
        trailing = raw.endswith(("/", os.sep))
        path = os.path.normpath(os.path.join(_base_dir(info), os.path.expanduser(raw)))
        return path + os.sep if trailing else path
    storages = (info.context or {}).get("storages")
    if storages is not None:
        storages.check_scheme(value)  # raises with the package to install
    if scheme == "s3":
        check_s3_url(value)
    return value


def check_s3_url(value: str) -> str:
    """An ``s3://bucket/prefix`` URL with a bucket, else a ValueError."""
    if not value.startswith("s3://"):
        raise ValueError(f"must be an s3:// URL, not {value!r}")
    bucket = value[5:].split("/", 1)[0]
    if not bucket:
        raise ValueError(f"{value!r} has no bucket name (expected s3://BUCKET/prefix)")
    return value


def resolve_path(value: Path, info: ValidationInfo) -> Path:
    """A local path made absolute against the routine file's folder."""
    return Path(os.path.normpath(_base_dir(info) / Path(value).expanduser()))


def existing_file(value: Path, info: ValidationInfo) -> Path:
    path = resolve_path(value, info)
    if not path.is_file():
        raise ValueError(f"file {path} does not exist")
    return path


def existing_dir(value: Path, info: ValidationInfo) -> Path:
    path = resolve_path(value, info)
    if not path.is_dir():
        raise ValueError(f"folder {path} does not exist")
    return path


Location = Annotated[str, AfterValidator(resolve_location)]
"""A local path (relative to the routine file) or a URL of an installed storage scheme."""

S3Url = Annotated[str, AfterValidator(lambda v: check_s3_url(v))]
"""An ``s3://bucket/prefix`` URL."""

LocalPath = Annotated[Path, AfterValidator(resolve_path)]
"""A local path, relative to the routine file's folder."""

ExistingFile = Annotated[Path, AfterValidator(existing_file)]
"""A local file that must exist, relative to the routine file's folder."""

ExistingDir = Annotated[Path, AfterValidator(existing_dir)]
"""A local folder that must exist, relative to the routine file's folder."""


def jsonable(value: Any) -> Any:
    """``value`` with paths and other objects turned into JSON-able values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
