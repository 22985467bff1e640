"""The Iceberg tasks, written once against a :class:`Target`: the twin and Glue both run
them (the AthenaExecutor runs the Athena SQL of :mod:`lakeroutine_iceberg.athena`).

Every commit goes through :func:`commit_once` (run id, step id and token in the snapshot
summary; conflicts retried with backoff). Nothing is committed when the input is refused.
"""

from __future__ import annotations

import json
from typing import Any

from lakeroutine.context import TaskContext, digest
from lakeroutine.errors import TaskError, TaskRefused
from lakeroutine.sql.iceberg import IcebergTableSpec, check_partitioning, is_widening
from lakeroutine.sql.iceberg_tasks import (
    AppendArgs,
    CreateIcebergArgs,
    EvolveArgs,
    IcebergQueryArgs,
    MergeArgs,
    OverwriteArgs,
    SourceArgs,
)

from lakeroutine_iceberg import schema as ischema
from lakeroutine_iceberg import sources
from lakeroutine_iceberg.commits import INPUTS, commit_once, committed_inputs
from lakeroutine_iceberg.targets import Target


def _differences(table: Any, spec: IcebergTableSpec) -> list[tuple[str, str]]:
    """How an existing table differs from a spec (columns, types, partitioning): pairs of
    the spec's field and what differs."""
    have = ischema.describe_schema(table.schema())
    problems = []
    for name, type_name in spec.columns.items():
        if name not in have:
            problems.append((f"columns.{name}", f"column {name!r} is missing"))
        elif have[name] != type_name:
            text = f"column {name!r} is {have[name]}, the spec says {type_name}"
            problems.append((f"columns.{name}", text))
    problems += [
        ("columns", f"column {n!r} is not in the spec") for n in have if n not in spec.columns
    ]
    parts = ischema.describe_partitioning(table.spec(), table.schema())
    wanted = [f.text() for f in spec.partition_fields]
    if parts != wanted:
        problems.append(("partitioned_by", f"partitioned by {parts}, the spec says {wanted}"))
    return problems


def create_table(target: Target, args: CreateIcebergArgs, ctx: TaskContext) -> dict[str, Any]:
    """Create the Iceberg table of the spec (``if_exists``: skip if it matches, fail, replace)."""
    spec = args.table
    label = f"{target.namespace}.{spec.name}"
    result: dict[str, Any] = {"table": label}
    if target.exists(spec.name):
        if args.if_exists == "fail":
            raise TaskError(f"table {label} already exists (if_exists: fail)")
        if args.if_exists == "skip":
            problems = _differences(target.load(spec.name), spec)
            if problems:
                raise TaskRefused(
                    f"table {label} exists with another schema: "
                    f"{'; '.join(text for _field, text in problems)} "
                    "(use iceberg_evolve, or if_exists: replace)",
                    field=f"args.table.{problems[0][0]}",
                )
            return {**result, "action": "kept"}
        target.catalog.drop_table(target.identifier(spec.name))
        result["action"] = "replaced"
    schema = ischema.schema_of(spec)
    kwargs: dict[str, Any] = {
        "schema": schema,
        "partition_spec": ischema.partition_spec_of(spec.partition_fields, schema),
        "sort_order": ischema.sort_order_of(spec.sort_fields, schema),
        "properties": {"format-version": "2", **spec.properties},
    }
    if spec.location:
        kwargs["location"] = spec.location.rstrip("/")
    table = target.catalog.create_table(target.identifier(spec.name), **kwargs)
    return {"action": "created", **result, "location": table.location()}


def _source_rows(target: Target, args: SourceArgs, table: Any) -> Any:
    label = f"{target.namespace}.{args.table}"
    if args.files is not None:
        rows = sources.read_files(target, sources.list_parquet(target, args.files))
    else:
        rows = sources.run_query(target, args.query or "")
    return sources.conform(rows, table.schema().as_arrow(), label)


def append(target: Target, args: AppendArgs, ctx: TaskContext) -> dict[str, Any]:
    """Append staged Parquet exactly once: registered as is where the schema matches,
    rewritten where it does not (``mode``), in one commit."""
    table = target.load(args.table)
    label = f"{target.namespace}.{args.table}"
    branch = args.branch or "main"
    if args.branch:
        from lakeroutine_iceberg.branches import ensure_branch

        ensure_branch(table, args.branch)
    arrow_schema = table.schema().as_arrow()
    referenced: list[str] = []
    rewrite: list[str] = []
    input_digest = None
    inputs: list[tuple[str, int]] = []
    skipped = 0
    if args.files is not None:
        listed = sources.fingerprint(target, sources.list_parquet(target, args.files))
        input_digest = digest(label, listed)
        done = committed_inputs(table)  # a staging folder grows: its old files are in
        inputs = [entry for entry in listed if tuple(entry) not in done]
        skipped = len(listed) - len(inputs)
        files = [name for name, _size in inputs]
        for name in files:
            same = sources.matches_schema(sources.file_schema(target, name), arrow_schema)
            wanted = args.mode == "reference" or (args.mode == "auto" and same)
            if wanted and not same:
                raise TaskError(
                    f"{name} does not match the schema of {label}: it cannot be registered "
                    "as is (mode: reference); use mode auto or rewrite"
                )
            (referenced if wanted else rewrite).append(name)
        rows = None
        if rewrite:
            rows = sources.conform(sources.read_files(target, rewrite), arrow_schema, label)
    else:
        rows = _source_rows(target, args, table)

    def work(fresh: Any, props: dict[str, str]) -> dict[str, Any] | None:
        nonlocal referenced, rows
        if not referenced and (rows is None or rows.num_rows == 0):
            return None
        if inputs:
            props = {**props, INPUTS: json.dumps(inputs, separators=(",", ":"))}
        txn = fresh.transaction()
        if referenced:
            try:
                txn.add_files(referenced, snapshot_properties=props, branch=branch)
            except ValueError as exc:
                if args.mode == "reference":
                    raise TaskError(f"cannot register the files in {label}: {exc}") from None
                # auto: a file pyiceberg cannot register (it spans partitions...): rewrite.
                ctx.logger.info("rewriting instead of registering: %s", exc)
                extra = sources.conform(sources.read_files(target, referenced), arrow_schema, label)
                rows = extra if rows is None else _concat(rows, extra)
                rewrite.extend(referenced)
                referenced = []
                txn = fresh.transaction()
        if rows is not None and rows.num_rows:
            txn.append(rows, snapshot_properties=props, branch=branch)
        txn.commit_transaction()
        return {
            "branch": branch,
            "files_already_in": skipped,
            "registered_files": len(referenced),
            "rewritten_files": len(rewrite),
            "rows_rewritten": 0 if rows is None else rows.num_rows,
        }

    load = lambda: target.load(args.table)  # noqa: E731
    outcome = commit_once(ctx, load, work, input_digest=input_digest)
    return {"table": label, "files_already_in": skipped, **outcome}


def _concat(a: Any, b: Any) -> Any:
    import pyarrow as pa

    return pa.concat_tables([a, b])


def overwrite(target: Target, args: OverwriteArgs, ctx: TaskContext) -> dict[str, Any]:
    """Replace the partitions the source has rows in (the whole table if unpartitioned):
    the new files are written first, then every current file of a partition they fill is
    swapped out in one snapshot (any transform, not only identity)."""
    table = target.load(args.table)
    rows = _source_rows(target, args, table)

    def work(fresh: Any, props: dict[str, str]) -> dict[str, Any]:
        from pyiceberg.io.pyarrow import _dataframe_to_data_files

        txn = fresh.transaction()
        unpartitioned = fresh.spec().is_unpartitioned()
        with txn.update_snapshot(snapshot_properties=props).overwrite() as producer:
            written = list(
                _dataframe_to_data_files(
                    txn.table_metadata, rows, fresh.io, write_uuid=producer.commit_uuid
                )
            )
            spec_id = fresh.spec().spec_id
            filled = {(spec_id, repr(f.partition)) for f in written}
            replaced = 0
            for task in fresh.scan().plan_files():
                key = (task.file.spec_id, repr(task.file.partition))
                if unpartitioned or key in filled:
                    producer.delete_data_file(task.file)
                    replaced += 1
            for data_file in written:
                producer.append_data_file(data_file)
        txn.commit_transaction()
        return {"rows": rows.num_rows, "partitions": len(filled), "files_replaced": replaced}

    label = f"{target.namespace}.{args.table}"
    return {"table": label, **commit_once(ctx, lambda: target.load(args.table), work)}


def merge(target: Target, args: MergeArgs, ctx: TaskContext) -> dict[str, Any]:
    """Upsert the source on ``keys`` (only the data files holding a matched key are
    rewritten; the change set is computed by DuckDB joins, not per-key expressions)."""
    from lakeroutine_iceberg.merge import merge_commit

    table = target.load(args.table)
    label = f"{target.namespace}.{args.table}"
    missing = [k for k in args.keys if k not in table.schema().column_names]
    if missing:
        raise TaskRefused(f"merge keys {missing} are not columns of {label}", field="args.keys")
    rows = _source_rows(target, args, table)

    def work(fresh: Any, props: dict[str, str]) -> dict[str, Any] | None:
        return merge_commit(fresh, rows, args.keys, args.delete_missing, props, label)

    return {"table": label, **commit_once(ctx, lambda: target.load(args.table), work)}


def evolve(target: Target, args: EvolveArgs, ctx: TaskContext) -> dict[str, Any]:
    """Add, rename and widen columns, change partitioning and sort order: every change is
    checked against the table first (nothing is committed if one is refused), and a change
    already made is skipped, so a rerun does nothing twice."""
    from lakeroutine.sql.tables import parse_type

    table = target.load(args.table)
    label = f"{target.namespace}.{args.table}"
    have = ischema.describe_schema(table.schema())
    adds = {n: t for n, t in args.add_columns.items() if n not in have}
    for name, type_name in args.add_columns.items():
        if name in have and not is_widening(type_name, have[name]):  # widened since: done
            raise TaskRefused(
                f"{label} has it already, as {have[name]}", field=f"args.add_columns.{name}"
            )
    renames = {}
    for old, new in args.rename_columns.items():
        if old in have:
            if new in have:
                raise TaskRefused(
                    f"{label} has a column {new!r} already", field=f"args.rename_columns.{old}"
                )
            renames[old] = new
        elif new not in have:
            raise TaskRefused(f"{label} has no column {old!r}", field=f"args.rename_columns.{old}")
    after = {renames.get(n, n): t for n, t in have.items()} | adds
    widens = {}
    for name, type_name in args.widen_columns.items():
        current = after.get(name)
        if current is None:
            raise TaskRefused(f"{label} has no column {name!r}", field=f"args.widen_columns.{name}")
        if current == type_name:
            continue
        if not is_widening(current, type_name):
            raise TaskRefused(
                f"{current} to {type_name} could lose data "
                "(allowed: int to bigint, float to double, a larger decimal precision)",
                field=f"args.widen_columns.{name}",
            )
        widens[name] = type_name
    new_fields = None
    if args.partitioned_by is not None:
        try:
            new_fields = check_partitioning(args.partitioned_by, after)
        except ValueError as exc:
            raise TaskRefused(f"{label}: {exc}", field="args.partitioned_by") from None
        if [f.text() for f in new_fields] == ischema.describe_partitioning(
            table.spec(), table.schema()
        ):
            new_fields = None
    sort_fields = None
    if args.sort_order is not None:
        from lakeroutine.sql.iceberg import parse_sort

        sort_fields = [parse_sort(t) for t in args.sort_order]
        for field in sort_fields:
            if field.column not in after:
                raise TaskRefused(
                    f"{label} has no column {field.column!r}", field="args.sort_order"
                )
        current = ischema.describe_sort(table.sort_order(), table.schema())
        if current == [f.text() for f in sort_fields]:
            sort_fields = None
    changes = {"added": list(adds), "renamed": renames, "widened": widens}
    if not (adds or renames or widens or new_fields is not None or sort_fields is not None):
        return {"table": label, "changed": False}

    def work(fresh: Any, props: dict[str, str]) -> dict[str, Any]:
        txn = fresh.transaction()
        if adds or renames or widens:
            with txn.update_schema() as update:
                for name, type_name in adds.items():
                    update.add_column(name, ischema.iceberg_type(parse_type(type_name), _NoIds()))
                for old, new in renames.items():
                    update.rename_column(old, new)
                for name, type_name in widens.items():
                    update.update_column(
                        name, field_type=ischema.iceberg_type(parse_type(type_name), _NoIds())
                    )
        if new_fields is not None:
            with txn.update_spec() as update:
                for field in fresh.spec().fields:
                    update.remove_field(field.name)
                for field in new_fields:
                    update.add_field(field.source, ischema.transform_of(field), field.name)
        if sort_fields is not None:
            with txn.update_sort_order() as update:
                for field in sort_fields:
                    from pyiceberg.table.sorting import NullOrder
                    from pyiceberg.transforms import IdentityTransform

                    nulls = NullOrder.NULLS_FIRST if field.nulls_first else NullOrder.NULLS_LAST
                    adder = update.asc if field.ascending else update.desc
                    adder(field.column, IdentityTransform(), nulls)
        txn.set_properties({"lakeroutine.last-evolve": json.dumps(props, sort_keys=True)})
        txn.commit_transaction()
        return {
            "changed": True,
            **changes,
            "partitioned_by": None if new_fields is None else [f.text() for f in new_fields],
        }

    return {"table": label, **_commit_metadata(ctx, target, args.table, work)}


class _NoIds:
    """Nested field ids for a new column: pyiceberg renumbers them on commit."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last += 1
        return self.last


def _commit_metadata(ctx: TaskContext, target: Target, name: str, work: Any) -> dict[str, Any]:
    """Metadata-only commits (no snapshot): retried on conflict; their token is kept in a
    table property, so a rerun after a kill sees the change was made."""
    from pyiceberg.exceptions import CommitFailedException

    from lakeroutine_iceberg.commits import backoff_s, commit_token, summary

    token = commit_token(ctx)
    props = summary(ctx, token)
    for attempt in range(60):
        ctx.check_cancelled()
        table = target.load(name)
        recorded = table.properties.get("lakeroutine.last-evolve")
        if recorded and json.loads(recorded).get("lakeroutine.commit-token") == token:
            return {"already_committed": True}
        try:
            return work(table, props)
        except CommitFailedException:
            ctx.sleep(backoff_s(attempt))
    raise TaskError("gave up after 60 commit conflicts in a row")


def query(target: Target, args: IcebergQueryArgs, ctx: TaskContext) -> dict[str, Any]:
    """Run a query over Iceberg tables (time travel: ``FOR VERSION AS OF``)."""
    rows = sources.run_query(target, args.sql)
    preview = rows.slice(0, args.preview_rows).to_pylist()
    return {
        "rows": rows.num_rows,
        "columns": rows.column_names,
        "preview": json.loads(json.dumps(preview, default=str)),
    }


def snapshots(target: Target, table: str) -> list[dict[str, Any]]:
    """The table's snapshots with their lakeroutine summary (for reports and tests)."""
    loaded = target.load(table)
    return [
        {
            "snapshot_id": s.snapshot_id,
            "operation": str(s.summary.operation),
            **(s.summary.additional_properties if s.summary else {}),
        }
        for s in loaded.metadata.snapshots
    ]
