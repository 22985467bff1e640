"""Dataset names by the OpenLineage naming spec, from what executors declare
(:mod:`lakeroutine.lineage`): one location or table has one name whichever executor
touches it, whatever alias or trailing slash its URL was written with."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from lakeroutine.lineage import Location, Table

ATHENA_CATALOG = "AwsDataCatalog"
REDSHIFT_PORT = 5439
SFTP_PORT = 22
_S3_ALIASES = {"s3", "s3a", "s3n"}


class DatasetName(NamedTuple):
    """An OpenLineage dataset's identity."""

    namespace: str
    name: str


def location_name(location: Location) -> DatasetName:
    """The name of a storage location (a prefix-level dataset: no per-file datasets)."""
    return _url_name(location.url, location.service)


@lru_cache(maxsize=1024)
def _url_name(url: str, service: str | None) -> DatasetName:
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower() if sep else "file"
    if scheme == "file":
        path = unquote(rest if sep else url)
        return DatasetName("file", _folder(os.path.abspath(os.path.expanduser(path))))
    if scheme in _S3_ALIASES:
        bucket, key = _bucket_key(rest)
        return DatasetName(f"s3://{bucket}", _key(key))
    if scheme in ("gs", "gcs"):
        bucket, key = _bucket_key(rest)
        return DatasetName(f"gs://{bucket}", _key(key))
    if scheme in ("az", "azure"):
        container, key = _bucket_key(rest)
        if service:  # the spec's Azure Blob Storage form
            return DatasetName(f"wasbs://{container}@{service}.dfs.core.windows.net", _key(key))
        return DatasetName(f"az://{container}", _key(key))
    if scheme in ("wasbs", "abfss", "wasb", "abfs"):
        authority, key = _bucket_key(rest)
        canonical = {"wasb": "wasbs", "abfs": "abfss"}.get(scheme, scheme)
        return DatasetName(f"{canonical}://{authority}", _key(key))
    if scheme == "sftp":
        parts = urlsplit(url)
        port = parts.port or SFTP_PORT
        return DatasetName(f"sftp://{parts.hostname}:{port}", _folder(unquote(parts.path) or "/"))
    parts = urlsplit(url)
    return DatasetName(f"{scheme}://{parts.netloc}", _folder(unquote(parts.path) or "/"))


def _bucket_key(rest: str) -> tuple[str, str]:
    bucket, _, key = rest.partition("/")
    return bucket, key


def _key(key: str) -> str:
    """An object key or prefix as the spec names it: no leading or trailing '/' (the
    bucket itself is '/')."""
    key = "/".join(part for part in key.split("/") if part)
    return key or "/"


def _folder(path: str) -> str:
    return path.rstrip("/") or "/"


def table_name(table: Table) -> DatasetName:
    """The name of a catalog table by the naming spec of the engine that names it."""
    system = table.system.lower()
    parts = table.name.split(".")
    if system in ("athena", "glue"):  # one Glue Data Catalog, named as Athena names it
        region = (
            table.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        )
        catalog = table.catalog or ATHENA_CATALOG
        return DatasetName(f"awsathena://athena.{region}.amazonaws.com", f"{catalog}.{table.name}")
    if system == "redshift":
        region = (
            table.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        )
        port = table.port or REDSHIFT_PORT
        name = table.name if len(parts) >= 3 else f"{table.catalog or 'dev'}.{table.name}"
        return DatasetName(f"redshift://{table.host}.{region}:{port}", name)
    if system == "duckdb":
        where = table.host or ":memory:"
        if where != ":memory:":
            where = os.path.abspath(where)
        return DatasetName(f"duckdb://{where}", table.name)
    authority = table.host or ""
    if table.port:
        authority = f"{authority}:{table.port}"
    return DatasetName(f"{system}://{authority}", table.name)
