"""Table upkeep pyiceberg lacks (compaction, orphan removal) plus snapshot expiry, with
policies: compact partitions holding more than N small files into files of a target
size; keep N days of snapshots (and at least the last few); delete unreferenced files
older than a safety age (a writer may still be about to commit younger ones)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lakeroutine.context import TaskContext
from lakeroutine.sql.iceberg_tasks import CompactPolicy, MaintainArgs

from lakeroutine_iceberg.commits import commit_once
from lakeroutine_iceberg.targets import Target

MB = 1024 * 1024


def compaction_groups(table: Any, policy: CompactPolicy) -> list[list[Any]]:
    """The small-file scan tasks of each partition that has more than the policy allows."""
    small = (policy.small_file_mb or policy.target_file_mb / 4) * MB
    groups: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for task in table.scan().plan_files():
        if task.file.file_size_in_bytes < small and not task.delete_files:
            groups[(task.file.spec_id, repr(task.file.partition))].append(task)
    return [tasks for tasks in groups.values() if len(tasks) > policy.min_small_files]


def compact_commit(
    table: Any, policy: CompactPolicy, props: dict[str, str]
) -> dict[str, Any] | None:
    """Rewrite each group of small files into files of about ``target_file_mb``, in one
    replace snapshot (same rows, fewer files): by DuckDB where it can, else by pyiceberg
    (:mod:`lakeroutine_iceberg.rewrite`)."""
    with manifests_read_once(table):
        return _compact(table, policy, props)


@contextmanager
def manifests_read_once(table: Any) -> Iterator[None]:
    """Each manifest of the table's current snapshot read once while compacting: planning
    reads it, then pyiceberg's overwrite reads each touched manifest twice more (the files
    kept, the entries deleted), about a third of the compaction's CPU for 1,000 small files.
    Manifests are immutable, so sharing their entries is safe; pyiceberg keeps one
    ManifestFile object per path, whose ``fetch_manifest_entry`` is memoised meanwhile."""
    snapshot = table.current_snapshot()
    manifests = snapshot.manifests(table.io) if snapshot is not None else []
    for manifest in manifests:
        manifest.fetch_manifest_entry = _memoised(manifest.fetch_manifest_entry)
    try:
        yield
    finally:
        for manifest in manifests:
            manifest.__dict__.pop("fetch_manifest_entry", None)


def _memoised(fetch: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    """``fetch`` (a manifest's entries) read once per ``discard_deleted``."""
    read: dict[bool, list[Any]] = {}

    def once(io: Any, discard_deleted: bool = True) -> list[Any]:
        if discard_deleted not in read:
            read[discard_deleted] = fetch(io, discard_deleted)
        return list(read[discard_deleted])

    return once


def _compact(table: Any, policy: CompactPolicy, props: dict[str, str]) -> dict[str, Any] | None:
    """:func:`compact_commit`'s work, the manifests read once."""
    from lakeroutine_iceberg import rewrite

    groups = compaction_groups(table, policy)
    if not groups:
        return None
    target_bytes = policy.target_file_mb * MB
    txn = table.transaction()
    sized = txn.table_metadata.model_copy(
        update={
            "properties": {
                **txn.table_metadata.properties,
                "write.target-file-size-bytes": str(target_bytes),
            }
        }
    )
    before = after = rows = 0
    with txn.update_snapshot(snapshot_properties=props).overwrite() as producer:
        for number, tasks in enumerate(groups):
            if rewrite.duckdb_can_rewrite(table, tasks):
                folder = f"compacted-{producer.commit_uuid}-{number}"
                written = rewrite.rewrite_with_duckdb(table, tasks, target_bytes, folder)
            else:
                written = rewrite.rewrite_with_pyiceberg(table, sized, tasks, producer.commit_uuid)
            for task in tasks:
                producer.delete_data_file(task.file)
                before += 1
            for data_file in written:
                producer.append_data_file(data_file)
                rows += data_file.record_count
                after += 1
    txn.commit_transaction()
    return {"partitions": len(groups), "files_before": before, "files_after": after, "rows": rows}


def expire(table: Any, older_than_days: float, retain_last: int) -> list[int]:
    """Expire snapshots older than the cutoff, keeping the newest ``retain_last`` and any
    a branch or tag points at; the ids expired."""
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=older_than_days)
    cutoff_ms = int(cutoff.timestamp() * 1000)
    ordered = sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms)
    keep = {s.snapshot_id for s in ordered[-retain_last:]}
    keep |= {ref.snapshot_id for ref in table.metadata.refs.values()}
    ids = [
        s.snapshot_id for s in ordered if s.timestamp_ms < cutoff_ms and s.snapshot_id not in keep
    ]
    if ids:
        table.maintenance.expire_snapshots().by_ids(ids).commit()
    return ids


def referenced_files(table: Any) -> set[str]:
    """Every file the table's metadata reaches: metadata files, manifest lists, manifests,
    data and delete files of every snapshot kept, statistics files."""
    meta = table.metadata
    found = {table.metadata_location, *(e.metadata_file for e in meta.metadata_log)}
    found |= {s.statistics_path for s in meta.statistics}
    found |= {s.statistics_path for s in meta.partition_statistics}
    for snapshot in meta.snapshots:
        found.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            found.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                found.add(entry.data_file.file_path)
    return found


def _normal(path: str) -> str:
    for prefix in ("file://", "s3://", "s3a://"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def remove_orphans(
    target: Target, table: Any, older_than_hours: float, dry_run: bool = False
) -> list[str]:
    """Delete files under the table's location that no metadata reaches and that are
    older than ``older_than_hours``; the paths removed."""
    from pyarrow import fs

    referenced = {_normal(p) for p in referenced_files(table)}
    filesystem, root = target.filesystem(table.location())
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=older_than_hours)
    removed = []
    try:
        listing = filesystem.get_file_info(fs.FileSelector(root.rstrip("/"), recursive=True))
    except FileNotFoundError:
        return []
    for info in listing:
        if info.type != fs.FileType.File or info.path in referenced:
            continue
        mtime = info.mtime
        if mtime is not None and mtime.tzinfo is None:
            mtime = mtime.replace(tzinfo=dt.timezone.utc)
        if mtime is not None and mtime > cutoff:
            continue
        if not dry_run:
            filesystem.delete_file(info.path)
        removed.append(info.path)
    return removed


def maintain(target: Target, args: MaintainArgs, ctx: TaskContext) -> dict[str, Any]:
    """Compact, expire snapshots, remove orphans: in that order, each one idempotent."""
    label = f"{target.namespace}.{args.table}"
    result: dict[str, Any] = {"table": label}
    if args.compact is not None:
        policy = args.compact
        result["compaction"] = commit_once(
            ctx,
            lambda: target.load(args.table),
            lambda table, props: compact_commit(table, policy, props),
            name="compact",
        )
    if args.expire_older_than_days is not None:
        expired = expire(target.load(args.table), args.expire_older_than_days, args.retain_last)
        result["snapshots_expired"] = len(expired)
    if args.remove_orphans_older_than_hours is not None:
        removed = remove_orphans(
            target, target.load(args.table), args.remove_orphans_older_than_hours
        )
        result["orphans_removed"] = len(removed)
    return result
