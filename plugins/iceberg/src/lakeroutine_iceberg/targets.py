"""Where the Iceberg tasks commit: a pyiceberg catalog, a namespace, a filesystem for staged
files and a DuckDB connection for source queries, built from the executor a task runs on.

The twin (DuckDBExecutor) keeps a SQL catalog on SQLite and a warehouse folder beside its
``.duckdb`` file; the GlueExecutor uses pyiceberg's Glue catalog with S3 files (its
``endpoint_url`` also points S3 at an emulator). pyiceberg is imported here, when a task runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakeroutine.errors import TaskError

CATALOG_NAME = "lakeroutine"


@dataclass
class Target:
    """A catalog and namespace, the staged files' filesystem and a query connection."""

    catalog: Any
    namespace: str
    label: str
    connection: Any = None  # a DuckDB connection (the twin's own, else in memory)
    connect: Any = None  # made on first use: the twin's file is locked only by queries
    s3_options: dict[str, Any] = field(default_factory=dict)

    def identifier(self, table: str) -> tuple[str, str]:
        return (self.namespace, table)

    def load(self, table: str) -> Any:
        """The table, fresh from the catalog; a TaskError naming it if it does not exist."""
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return self.catalog.load_table(self.identifier(table))
        except NoSuchTableError:
            raise TaskError(f"no Iceberg table {self.namespace}.{table}") from None

    def exists(self, table: str) -> bool:
        return self.catalog.table_exists(self.identifier(table))

    def duckdb(self) -> Any:
        """The DuckDB connection source queries run on."""
        if self.connection is None and self.connect is not None:
            self.connection = self.connect()
        if self.connection is None:
            import duckdb

            self.connection = duckdb.connect()
        return self.connection

    def filesystem(self, location: str) -> tuple[Any, str]:
        """A pyarrow filesystem for ``location`` and the path within it."""
        from pyarrow import fs

        if location.startswith("s3://"):
            options = {k: v for k, v in self.s3_options.items() if v is not None}
            return fs.S3FileSystem(**options), location[len("s3://") :]
        return fs.LocalFileSystem(), location.removeprefix("file://")


def twin_folder(database: Path) -> Path:
    """The twin's Iceberg folder: ``<name>.iceberg/`` beside the ``.duckdb`` file."""
    return database.parent / f"{database.stem}.iceberg"


def twin_catalog(database: Path) -> Any:
    """The twin's SQL catalog on SQLite, its warehouse in the same folder."""
    from pyiceberg.catalog.sql import SqlCatalog

    folder = twin_folder(database)
    (folder / "warehouse").mkdir(parents=True, exist_ok=True)
    return SqlCatalog(
        CATALOG_NAME,
        uri=f"sqlite:///{folder / 'catalog.db'}?timeout=60",
        warehouse=(folder / "warehouse").as_uri(),
    )


def twin_target(executor: Any) -> Target:
    """The target of a DuckDBExecutor: its schema is the namespace, its connection queries."""
    catalog = twin_catalog(executor.params.database)
    namespace = executor.params.schema_name
    catalog.create_namespace_if_not_exists(namespace)
    return Target(catalog, namespace, f"{namespace}", connect=lambda: executor.con)


def glue_properties(params: Any) -> dict[str, str]:
    """pyiceberg GlueCatalog properties from a GlueExecutor's connection params."""
    props: dict[str, str] = {}
    if params.region_name:
        props["glue.region"] = params.region_name
        props["s3.region"] = params.region_name
    if params.profile_name:
        props["glue.profile-name"] = params.profile_name
    if params.endpoint_url:
        props["glue.endpoint"] = params.endpoint_url
    s3_endpoint = s3_endpoint_of(params)
    if s3_endpoint:
        props["s3.endpoint"] = s3_endpoint
    return props


def s3_endpoint_of(params: Any) -> str | None:
    """Where S3 is for an AWS executor: its ``endpoint_url``, else the environment's
    (boto3 reads AWS_ENDPOINT_URL itself; pyarrow's S3 filesystem does not)."""
    import os

    return (
        params.endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )


def glue_target(executor: Any) -> Target:
    """The target of a GlueExecutor: pyiceberg's Glue catalog, its database the namespace."""
    import os

    from pyiceberg.catalog.glue import GlueCatalog

    params = executor.params
    if params.database is None:
        raise TaskError("Iceberg tasks on Glue need params.database")
    catalog = GlueCatalog(CATALOG_NAME, **glue_properties(params))
    region = params.region_name or os.environ.get("AWS_DEFAULT_REGION")
    endpoint = s3_endpoint_of(params)
    s3: dict[str, Any] = {"region": region}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        s3.update(endpoint_override=host, scheme=scheme)
    catalog.create_namespace_if_not_exists(params.database)
    return Target(catalog, params.database, params.database, s3_options=s3)
