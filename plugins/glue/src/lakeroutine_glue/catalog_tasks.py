"""Data Catalog tasks: a database, a table of the shared spec, and its partitions.

What is sent is built by ``catalog`` from validated args; here are the calls and what an
existing database, table or partition means (skipped, updated or counted, never an error
unless ``if_exists: fail``).
"""

from __future__ import annotations

from typing import Any

from lakeroutine.aws import error_code
from lakeroutine.context import TaskContext
from lakeroutine.errors import TaskError

from lakeroutine_glue import catalog
from lakeroutine_glue.models import AddPartitionsArgs, CreateDatabaseArgs, CreateTableArgs

PARTITION_BATCH = 100
"""Glue's BatchCreatePartition takes at most 100 partitions per call."""


def create_database(client: Any, database: str, args: CreateDatabaseArgs) -> dict[str, Any]:
    """Create ``database`` if it does not exist (an existing one is left as it is)."""
    definition: dict[str, Any] = {"Name": database}
    if args.description:
        definition["Description"] = args.description
    if args.location:
        definition["LocationUri"] = args.location
    try:
        client.create_database(DatabaseInput=definition)
    except Exception as exc:
        if error_code(exc) != "AlreadyExistsException":
            raise
        return {"database": database, "action": "skipped"}
    return {"database": database, "action": "created"}


def create_table(client: Any, database: str, args: CreateTableArgs) -> dict[str, Any]:
    """Register ``args.table``; an existing table is skipped, updated or refused."""
    spec = args.table
    table_input = catalog.table_input(spec)
    name = f"{database}.{spec.name}"
    try:
        client.create_table(DatabaseName=database, TableInput=table_input)
        action = "created"
    except Exception as exc:
        code = error_code(exc)
        if code == "EntityNotFoundException":
            raise TaskError(f"Glue database {database!r} does not exist") from None
        if code != "AlreadyExistsException":
            raise
        if args.if_exists == "fail":
            raise TaskError(f"table {name} already exists (if_exists is 'fail')") from None
        action = "skipped"
        if args.if_exists == "update":
            client.update_table(DatabaseName=database, TableInput=table_input)
            action = "updated"
    return {
        "table": name,
        "action": action,
        "location": spec.location,
        "format": spec.format,
        "partition_keys": list(spec.partitioned_by),
    }


def add_partitions(
    client: Any, database: str, args: AddPartitionsArgs, ctx: TaskContext
) -> dict[str, Any]:
    """Add partitions, ``PARTITION_BATCH`` per call; existing ones are counted, not errors."""
    name = f"{database}.{args.table}"
    try:
        table = client.get_table(DatabaseName=database, Name=args.table)["Table"]
    except Exception as exc:
        if error_code(exc) == "EntityNotFoundException":
            raise TaskError(f"table {name} does not exist") from None
        raise
    try:
        inputs = [catalog.partition_input(table, p.values, p.location) for p in args.partitions]
    except ValueError as exc:
        raise TaskError(str(exc)) from None
    added = existing = batches = 0
    for start in range(0, len(inputs), PARTITION_BATCH):
        ctx.check_cancelled()
        batch = inputs[start : start + PARTITION_BATCH]
        response = client.batch_create_partition(
            DatabaseName=database, TableName=args.table, PartitionInputList=batch
        )
        batches += 1
        errors = response.get("Errors", [])
        already = [e for e in errors if e["ErrorDetail"]["ErrorCode"] == "AlreadyExistsException"]
        failed = [e for e in errors if e not in already]
        if failed:
            detail = failed[0]["ErrorDetail"]
            raise TaskError(
                f"{len(failed)} partition(s) of {name} were not added, "
                f"e.g. {failed[0]['PartitionValues']}: {detail.get('ErrorCode')}: "
                f"{detail.get('ErrorMessage')}"
            )
        existing += len(already)
        added += len(batch) - len(already)
    return {"table": name, "added": added, "already_existed": existing, "batches": batches}
