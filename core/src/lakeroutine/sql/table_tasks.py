"""The args of the table tasks several executors share (``create_table``, ``drop_table``,
``repair_table``, ``add_partitions``, ``ctas``), so a routine moves between executors (DuckDB
locally, Athena on AWS) by changing the executor, not its tasks. Each executor subclasses
them to narrow what it can reach: its table spec, the scheme of its locations, its formats.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from lakeroutine.executor import Params
from lakeroutine.sql.query_text import QueryText
from lakeroutine.sql.tables import Identifier, PartitionValues, TableSpec, partition_path

IfExists = Literal["skip", "fail", "replace"]


class TableArgs(Params):
    """Tasks on one existing table (``repair_table``, ``drop_table``)."""

    table: Identifier


class CreateTableArgs(Params):
    """``create_table``: a table spec and what to do if the table exists: ``skip`` (keep
    it), ``fail``, or ``replace`` (drop it first; its files stay)."""

    table: TableSpec
    if_exists: IfExists = "skip"


class PartitionArgs(Params):
    """One partition: its values and, optionally, its own location."""

    values: PartitionValues = Field(min_length=1)
    location: str | None = None


class AddPartitionsArgs(Params):
    """``add_partitions``: partitions of ``table``, all with the same keys; without their
    own location, each is ``location`` + ``k=v/`` folders (hive style)."""

    table: Identifier
    partitions: list[PartitionArgs] = Field(min_length=1)
    location: str | None = None
    batch_size: int = Field(100, ge=1, le=1000, description="Partitions per statement")

    @field_validator("partitions")
    @classmethod
    def _same_keys(cls, value: list[PartitionArgs]) -> list[PartitionArgs]:
        keys = list(value[0].values) if value else []
        for number, partition in enumerate(value):
            if list(partition.values) != keys:
                raise ValueError(
                    f"partition {number} has keys {list(partition.values)}, the first has {keys}"
                )
        return value

    def located(self) -> list[tuple[dict[str, Any], str | None]]:
        """Each partition's values and folder: its own location, else ``location`` and its
        hive-style folders, else None (the table's own layout decides)."""
        entries = []
        for partition in self.partitions:
            folder = partition.location
            if folder is None and self.location is not None:
                base = self.location if self.location.endswith("/") else self.location + "/"
                folder = base + partition_path(partition.values)
            entries.append((dict(partition.values), folder))
        return entries


class CtasArgs(QueryText):
    """``ctas``: a query's result written to a new folder and made a table; the
    ``partitioned_by`` columns must be the query's last ones."""

    table: Identifier
    location: str
    format: Literal["parquet", "json", "csv"] = "parquet"
    partitioned_by: list[Identifier] = Field(
        default_factory=list, description="Partition columns: the query's last columns"
    )
    if_exists: Literal["fail", "replace"] = "fail"
