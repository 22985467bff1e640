"""Params of the GlueExecutor and args of its tasks, validated before anything is sent."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from lakeroutine.aws import AwsConnection
from lakeroutine.executor import Params
from lakeroutine.sql.tables import Identifier, TableSpec, check_name
from lakeroutine.types import S3Url, check_s3_url
from pydantic import AfterValidator, Field, field_validator, model_validator

_JOB_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,255}$")
_ROLE_RE = re.compile(
    r"^(?:arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}|[A-Za-z0-9+=,.@_-]{1,64})$"
)
_ARG_KEY_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,255}$")


def _check_resource_name(value: str) -> str:
    if not _JOB_NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid Glue name (letters, digits, '_', '.', '-'; 1-255)"
        )
    return value


def _check_role(value: str) -> str:
    if not _ROLE_RE.match(value):
        raise ValueError(f"{value!r} is not an IAM role name or role ARN")
    return value


def normalise_arguments(arguments: dict[str, str]) -> dict[str, str]:
    """Job arguments keyed ``--name`` whether or not the routine wrote the dashes."""
    result: dict[str, str] = {}
    for key, value in arguments.items():
        bare = key[2:] if key.startswith("--") else key
        if not _ARG_KEY_RE.match(bare):
            raise ValueError(f"argument name {key!r}: use letters, digits, '_', '.', '-'")
        if f"--{bare}" in result:
            raise ValueError(f"argument {bare!r} is given twice (with and without '--')")
        result[f"--{bare}"] = value
    return result


GlueName = Annotated[str, AfterValidator(_check_resource_name)]
Role = Annotated[str, AfterValidator(_check_role)]
Arguments = Annotated[dict[str, str], AfterValidator(normalise_arguments)]
IfExists = Literal["skip", "update", "fail"]
WorkerType = Literal["Standard", "G.025X", "G.1X", "G.2X", "G.4X", "G.8X", "Z.2X"]


class GlueParams(AwsConnection):
    """The catalog database the tasks work in, where Glue is (``AwsConnection``: region,
    profile, endpoint, retries), and how to wait on it."""

    database: Identifier | None = Field(
        None, description="Data Catalog database (catalog tasks and crawlers)"
    )
    poll_interval_s: float = Field(10.0, gt=0, le=600, description="Seconds between polls")
    max_wait_s: float = Field(
        6 * 3600.0,
        gt=0,
        le=7 * 24 * 3600.0,
        description="Longest wait for a job run or crawl (default 6 h, at most 7 days)",
    )


class CreateDatabaseArgs(Params):
    """The params' catalog database: its description and default table location."""

    description: str | None = None
    location: S3Url | None = Field(None, description="Default location of the tables")


class CatalogTableSpec(TableSpec):
    """The shared table spec (lakeroutine.sql.tables) with its files on S3."""

    @field_validator("location")
    @classmethod
    def _on_s3(cls, location: str) -> str:
        return check_s3_url(location)


class CreateTableArgs(Params):
    """A table of the shared spec registered in the Data Catalog."""

    table: CatalogTableSpec
    if_exists: IfExists = Field("skip", description="skip it, update it to the spec, or fail")


class PartitionEntry(Params):
    """One partition: a value per partition column, and its folder if not the default."""

    values: dict[str, str | int] = Field(min_length=1, description="Partition column -> value")
    location: S3Url | None = Field(
        None, description="Folder of the partition (default: table location + k=v/)"
    )

    @field_validator("values")
    @classmethod
    def _names(cls, values: dict[str, str | int]) -> dict[str, str | int]:
        return {check_name(k, "partition column"): v for k, v in values.items()}


class AddPartitionsArgs(Params):
    """Partitions to add to a catalog table of the params' database."""

    table: Identifier
    partitions: list[PartitionEntry] = Field(min_length=1)


class CreateOrUpdateJobArgs(Params):
    """A Glue job definition; an existing job changes only with ``if_exists: update``."""

    name: GlueName
    role: Role
    script_location: S3Url
    command: Literal["glueetl", "pythonshell", "gluestreaming", "glueray"] = "glueetl"
    python_version: Literal["3", "3.9"] = "3"
    glue_version: Annotated[str, Field(pattern=r"^\d+\.\d+$")] = "4.0"
    worker_type: WorkerType | None = None
    number_of_workers: int | None = Field(None, ge=1, le=10000)
    default_arguments: Arguments = Field(default_factory=dict)
    max_retries: int = Field(0, ge=0, le=10)
    timeout_minutes: int | None = Field(None, ge=1, le=10080)
    max_concurrent_runs: int | None = Field(None, ge=1, le=1000)
    description: str | None = None
    if_exists: IfExists = Field("skip", description="skip it, update it, or fail")

    @model_validator(mode="after")
    def _workers(self) -> CreateOrUpdateJobArgs:
        if (self.worker_type is None) != (self.number_of_workers is None):
            raise ValueError("give worker_type and number_of_workers together")
        if self.command == "pythonshell" and self.worker_type is not None:
            raise ValueError("pythonshell jobs take no worker_type / number_of_workers")
        return self


class StartJobArgs(Params):
    """A run of an existing Glue job: its arguments and worker overrides."""

    job_name: GlueName
    arguments: Arguments = Field(default_factory=dict, description="--name (or name) -> value")
    wait: bool = Field(True, description="Wait for the run to finish")
    worker_type: WorkerType | None = None
    number_of_workers: int | None = Field(None, ge=1, le=10000)
    timeout_minutes: int | None = Field(None, ge=1, le=10080)


class CreateOrUpdateCrawlerArgs(Params):
    """A crawler over S3 paths, writing into the params' database."""

    name: GlueName
    role: Role
    targets: list[S3Url] = Field(min_length=1, description="s3:// paths to crawl")
    exclusions: list[str] = Field(default_factory=list, description="Glob patterns to skip")
    table_prefix: str | None = Field(None, pattern=r"^[a-z0-9_]{1,128}$")
    schedule: str | None = Field(None, pattern=r"^cron\([^()]{1,200}\)$")
    description: str | None = None
    if_exists: IfExists = Field("skip", description="skip it, update it, or fail")


class StartCrawlerArgs(Params):
    """A crawl of an existing crawler (joined if one is already running)."""

    name: GlueName
    wait: bool = Field(True, description="Wait for the crawl to finish")
