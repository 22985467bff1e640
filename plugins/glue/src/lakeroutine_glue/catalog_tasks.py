"""Data Catalog tasks: a database, a table of the shared spec, and its partitions.

What is sent is built by ``catalog`` from validated args; here are the calls and what an
existing database, table or partition means (skipped, updated or counted; an existing
table changes only with ``if_exists: update``, and is an error with ``if_exists: fail``).
"""

from __future__ import annotations

from typing import Any

from lakeroutine.aws import error_code
from lakeroutine.context import TaskContext
from lakeroutine.errors import TaskError

from lakeroutine_glue import catalog
from lakeroutine_glue.definitions import create_or_update
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


def _shape(table: dict[str, Any]) -> dict[str, Any]:
    """What a table's definition says, in a form that compares (Glue adds its own keys)."""
    storage = table.get("StorageDescriptor") or {}
    serde = storage.get("SerdeInfo") or {}
    return {
        "Columns": [(c["Name"], c.get("Type")) for c in storage.get("Columns", [])],
        "PartitionKeys": [(c["Name"], c.get("Type")) for c in table.get("PartitionKeys", [])],
        "Location": storage.get("Location"),
        "Format": (storage.get("InputFormat"), storage.get("OutputFormat")),
        "SerdeInfo": (serde.get("SerializationLibrary"), serde.get("Parameters") or {}),
    }


def table_differences(existing: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Parts of the ``wanted`` TableInput the existing table does not have (its own extra
    table parameters are kept, not differences)."""
    have, want = _shape(existing), _shape(wanted)
    changed = [key for key in want if want[key] != have[key]]
    parameters = existing.get("Parameters") or {}
    if any(parameters.get(k) != v for k, v in wanted.get("Parameters", {}).items()):
        changed.append("Parameters")
    return changed


def create_table(
    client: Any, database: str, args: CreateTableArgs, ctx: TaskContext
) -> dict[str, Any]:
    """Register ``args.table``; an existing table is skipped, updated or refused as
    ``args.if_exists`` says, and the parts that differ are reported."""
    spec = args.table
    table_input = catalog.table_input(spec)

    def create() -> None:
        try:
            client.create_table(DatabaseName=database, TableInput=table_input)
        except Exception as exc:
            if error_code(exc) == "EntityNotFoundException":
                raise TaskError(f"Glue database {database!r} does not exist") from None
            raise

    result = create_or_update(
        kind="Glue table",
        name=f"{database}.{spec.name}",
        if_exists=args.if_exists,
        get=lambda: client.get_table(DatabaseName=database, Name=spec.name)["Table"],
        create=create,
        update=lambda: client.update_table(DatabaseName=database, TableInput=table_input),
        differences=lambda existing: table_differences(existing, table_input),
        ctx=ctx,
    )
    return {
        "table": result["name"],
        "action": result["action"],
        "changed": result["changed"],
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
