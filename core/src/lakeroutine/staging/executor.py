"""StagingExecutor: copy landing files to staging (optionally transformed), then archive or
delete the originals, with nothing lost or doubled even if the run is killed.

``transfer`` maps each landing name to one staging name (refusing names that could climb
out or collide), claims every output name for its source before writing it, publishes each
output atomically, verifies it, and records the landing file in the journal.
``post_staging`` then archives or deletes only journalled files that are still exactly the
version staged, checked at the moment of removal (a claim by rename, or a conditional
delete), so a file replaced meanwhile always survives.
"""

from __future__ import annotations

import filecmp
import hashlib
import itertools
import logging
import os
import posixpath
import tempfile
import threading
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from lakeroutine import lineage
from lakeroutine.concurrency import parallel_map
from lakeroutine.context import RunContext, TaskContext, digest
from lakeroutine.errors import RoutineError, TaskError
from lakeroutine.executor import Executor, Params, task
from lakeroutine.staging import names, transforms
from lakeroutine.staging.file_schema import ExpectedSchema
from lakeroutine.staging.journal import (
    ARCHIVING,
    CLAIMING,
    IN_POST_STAGING,
    STAGED,
    Entry,
    StagingJournal,
)
from lakeroutine.state import TaskState
from lakeroutine.storage.base import FileInfo, SourceChanged, Storage, StorageError
from lakeroutine.storage.registry import scheme_of
from lakeroutine.types import Location
from lakeroutine.wording import counted

if TYPE_CHECKING:
    from lakeroutine.staging import workers

log = logging.getLogger("lakeroutine.staging")

FIELDS = ("parent_directory", "dump_directory", "archive_directory")
DELETE_BATCH = 1000  # landing files finished per chunk (S3 deletes at most 1,000 keys a call)
CLAIM_BATCH = 500  # plain copies whose staging names are claimed in one durable write
REPORTED_REFUSALS = 100  # refused files named in the report (all are logged)


def _is_md5(token: str | None) -> bool:
    """A content token that is the MD5 of the bytes (a one-part S3 ETag)."""
    text = token or ""
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def _md5_of(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dir_key(location: str) -> str:
    return location.rstrip("/" + os.sep) + "/"


def _canonical(location: str, info: ValidationInfo) -> str:
    """The location as its storage compares it (symlinks resolved, ``s3a`` is ``s3``)."""
    storages = (info.context or {}).get("storages")
    if storages is None:
        return _dir_key(location)
    try:
        return storages.for_url(location).canonical(location)
    except Exception:  # an unknown scheme is reported by the field's own check
        return _dir_key(location)


def _check_state_apart(info: ValidationInfo, **locations: str) -> None:
    """The routine's state store must not lie inside a location it stages from or to (its
    lease, journal and records would be staged as data, its live lease deleted): compared
    as the storage of the state's URL resolves it (symlinks, ``s3a``)."""
    context = info.context or {}
    url = context.get("state_url")
    if not url:
        return
    field = context.get("state_field", "state")
    state = _canonical(url.split("?", 1)[0], info)
    for name, location in locations.items():
        if state.startswith(location):
            raise ValueError(
                f"the routine's state location ({field}) must not be inside {name}: the "
                "run would stage, archive or delete its own state"
            )


def _is_root(location: str) -> bool:
    """Whether a URL names a whole bucket, container or server (``gs://b/``, ``sftp://h/``)
    or a filesystem root: a location with no parent folder to hold a sibling."""
    _, sep, rest = location.partition("://")
    if sep and scheme_of(location) != "file":
        path = rest.partition("/")[2]
    else:
        path = rest if sep else location
    return path.strip("/" + os.sep) == ""


def overlap_problem(parent: str, dump: str, archive: str) -> str | None:
    """Why landing, staging and archive (each canonical, ending in ``/``) overlap, or None."""
    if parent == dump:
        return "parent_directory and dump_directory are the same location"
    if dump.startswith(parent):
        return "dump_directory must not be inside parent_directory"
    if parent.startswith(dump):
        return "parent_directory must not be inside dump_directory"
    if archive.startswith(parent) or parent.startswith(archive):
        return "archive_directory and parent_directory must not overlap"
    if archive.startswith(dump) or dump.startswith(archive):
        return "archive_directory and dump_directory must not overlap"
    return None


# Errors about one landing file (replaced or growing while read, gone, unreadable): that
# file is refused, named, and left in landing; the others are staged.
PER_FILE_ERRORS = (SourceChanged, FileNotFoundError, PermissionError)


def _file_problem(exc: BaseException) -> str:
    """Why one landing file could not be read, for its refusal."""
    if isinstance(exc, SourceChanged):
        return f"it changed while it was staged: {exc}"
    if isinstance(exc, FileNotFoundError):
        return "it vanished from landing before it was copied"
    return f"it cannot be read: {exc}"


class _Refuse(Exception):
    """One landing file cannot be staged safely; it is left in landing and reported."""


def _refuse_taken(name: str, owner: str) -> None:
    """Refuse a file whose staging name another landing file (or block) owns."""
    raise _Refuse(
        f"its staging name {names.shown(name)} already holds "
        f"{names.shown(owner.rpartition(chr(0))[2] or owner)}"
    )


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of ``size`` (the last may be shorter)."""
    while chunk := list(itertools.islice(items, size)):
        yield chunk


class StagingParams(Params):
    """Params of a staging block (the notebook's names first)."""

    parent_directory: Location = Field(description="Landing location the files come from")
    dump_directory: Location = Field(description="Staging location the files go to")
    archive_or_delete: Literal["archive", "delete"] = Field(
        "archive", description="What post_staging does with staged landing files"
    )
    py_exec_path: str | None = Field(
        None,
        description="Transformation: a folder with py_exec.py (the notebook's contract), "
        "or module:function / path.py:function called per file",
    )
    py_exec_args: dict[str, Any] | None = Field(
        None, description="Keyword arguments for the transformation"
    )
    archive_directory: Location | None = Field(
        None, description="Where archived files go (default: a sibling '<landing>_archive')"
    )
    include: list[str] = Field(
        default_factory=lambda: ["*"], description="Globs of landing paths to stage"
    )
    exclude: list[str] = Field(default_factory=list, description="Globs of paths to leave")
    on_refused: Literal["warn", "fail"] = Field(
        "warn",
        description="A landing file that cannot be staged safely (an unsafe or colliding "
        "name, a symbolic link, a file changing while copied) is left in landing and named in "
        "the report: 'warn' ends transfer succeeded with warnings, 'fail' ends it failed "
        "once the other files are staged",
    )
    expected_schema: ExpectedSchema | None = Field(
        None, description="Columns, types and header landing files must have to be staged"
    )
    max_workers: int = Field(8, ge=1, le=128, description="Files copied at once")
    workers: Literal["auto", "threads", "processes"] = Field(
        "auto",
        description="Where a per-file transformation runs: 'processes' in max_workers "
        "worker processes (CPU-bound Python is not serialised by the GIL), 'threads' in the "
        "staging threads, 'auto' in worker processes (at most one per CPU, started only "
        "when files are transformed at once) for files of 256 KiB or more, or on threads, "
        "one per CPU, for a function whose work releases the GIL (csv_to_parquet)",
    )
    region_name: str | None = Field(None, description="Region for remote storages")
    profile_name: str | None = Field(None, description="AWS profile for remote storages")
    endpoint_url: str | None = Field(None, description="Endpoint for remote storages")
    storage_options: dict[str, Any] = Field(
        default_factory=dict, description="More options for the storage plugins"
    )

    @field_validator("py_exec_path")
    @classmethod
    def _check_transform(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            base = Path((info.context or {}).get("base_dir") or os.getcwd())
            transforms.parse_transform(value, base)
        return value

    @model_validator(mode="after")
    def _check_workers(self) -> StagingParams:
        """Worker processes run a per-file transformation; without one they would idle."""
        if self.workers == "processes" and not transforms.names_a_function(self.py_exec_path or ""):
            raise ValueError(
                "workers: 'processes' runs a per-file transformation (py_exec_path "
                "'module:function' or 'file.py:function') in worker processes; this block "
                f"has {'none' if self.py_exec_path is None else 'a notebook folder'}: use "
                "'auto' or 'threads'"
            )
        return self

    @model_validator(mode="after")
    def _check_locations(self, info: ValidationInfo) -> StagingParams:
        """Landing, staging and archive must not overlap, compared as their storages
        resolve them (a symlinked folder, ``s3a://`` for ``s3://``), not as text. The
        default archive is the sibling ``<landing>_archive``; a landing that is a bucket,
        container or server root has no sibling, so it needs an explicit archive."""
        if self.archive_directory is None:
            if self.archive_or_delete == "archive" and _is_root(self.parent_directory):
                raise ValueError(
                    f"archive_directory: parent_directory {self.parent_directory} is a "
                    "bucket, container or server root, so there is no sibling "
                    "'<landing>_archive' to archive into (it would name another bucket); "
                    "give archive_directory"
                )
            sibling = self.parent_directory.rstrip("/" + os.sep) + "_archive"
            object.__setattr__(self, "archive_directory", sibling)
        parent = _canonical(self.parent_directory, info)
        dump = _canonical(self.dump_directory, info)
        archive = _canonical(self.archive_directory or "", info)
        problem = overlap_problem(parent, dump, archive)
        if problem:
            raise ValueError(problem)
        _check_state_apart(
            info, parent_directory=parent, dump_directory=dump, archive_directory=archive
        )
        return self

    @model_validator(mode="after")
    def _check_quarantine(self, info: ValidationInfo) -> StagingParams:
        """Refused files moved to a quarantine inside landing would be listed again."""
        where = self.expected_schema.quarantine_directory if self.expected_schema else None
        if where:
            quarantine = _canonical(where, info)
            for name in ("parent_directory", "dump_directory"):
                other = _canonical(getattr(self, name), info)
                if quarantine.startswith(other) or other.startswith(quarantine):
                    raise ValueError(
                        f"expected_schema.quarantine_directory and {name} must not overlap"
                    )
        return self

    def storage_settings(self) -> dict[str, Any]:
        settings = {
            "region_name": self.region_name,
            "profile_name": self.profile_name,
            "endpoint_url": self.endpoint_url,
        }
        return {**{k: v for k, v in settings.items() if v}, **self.storage_options}


class StagingExecutor(Executor):
    """Moves files from a landing location to a staging location through an optional
    Python transformation, then archives or deletes the originals."""

    name = "StagingExecutor"
    Params = StagingParams
    params: StagingParams

    def __init__(self, params: StagingParams, context: RunContext) -> None:
        super().__init__(params, context)
        storages = context.storages.with_options(params.storage_settings())
        self.parent = params.parent_directory
        self.dump = params.dump_directory
        self.archive = params.archive_directory or ""
        self.source: Storage = storages.for_url(self.parent)
        self.target: Storage = storages.for_url(self.dump)
        self.archive_store: Storage = storages.for_url(self.archive)
        self.transform = (
            transforms.parse_transform(params.py_exec_path, context.base_dir)
            if params.py_exec_path
            else None
        )
        self._journal: StagingJournal | None = None
        self._everything = params.include == ["*"] and not params.exclude  # "*" matches all
        self._landing_key = self.source.canonical(self.parent)
        self._landing_digest = "landing:" + digest(self._landing_key)
        # Plain copies claimed a chunk at a time (_claimed_ahead): a landing name -> None
        # (staged already: skip) or, once its staging name is claimed, (owned before, other
        # owner or None). Entries leave as their files are staged.
        self._ahead: dict[str, tuple[bool, str | None] | None] = {}

    # -- checks ---------------------------------------------------------------------------

    def preflight(self, tasks: list[str]) -> None:
        checks = [(self.source, self.parent, False, "parent_directory")]
        if "transfer" in tasks:
            checks.append((self.target, self.dump, True, "dump_directory"))
        if "post_staging" in tasks and self.params.archive_or_delete == "archive":
            checks.append((self.archive_store, self.archive, True, "archive_directory"))
        for storage, location, write, fieldname in checks:
            try:
                storage.check_location(location, write=write)
            except StorageError as exc:
                raise RoutineError(str(exc), field=f"params.{fieldname}") from None
        self._check_resolved_overlap()

    def _check_resolved_overlap(self) -> None:
        """The overlap check again, on locations as the servers resolve them (a host name
        and its address, a server-side symbolic link), where a storage can (``resolve``)."""
        places = [(self.source, self.parent), (self.target, self.dump)]
        if self.params.archive_or_delete == "archive":
            places.append((self.archive_store, self.archive))
        if not any(hasattr(storage, "resolve") for storage, _ in places):
            return
        resolved = []
        for (storage, location), fieldname in zip(places, FIELDS, strict=False):
            resolve = getattr(storage, "resolve", storage.canonical)
            try:
                resolved.append(resolve(location))
            except StorageError as exc:
                raise RoutineError(str(exc), field=f"params.{fieldname}") from None
        archive = resolved[2] if len(resolved) > 2 else "\0"  # delete mode: none
        problem = overlap_problem(resolved[0], resolved[1], archive)
        if problem:
            fieldname = problem.split()[0]
            raise RoutineError(
                f"{problem} (as the server resolves them: {', '.join(resolved)})",
                field=f"params.{fieldname}",
            )

    @property
    def journal(self) -> StagingJournal:
        if self._journal is None:
            scope = f"{self.name}:{digest(self.parent, self.dump)}"
            outputs_scope = digest(self.target.canonical(self.dump))
            self._journal = StagingJournal(
                self.context.state,
                scope,
                outputs_scope,
                source_url=lambda name: self.source.join(self.parent, name),
                output_url=lambda name: self.target.join(self.dump, name),
                archive_url=lambda name: self.archive_store.join(self.archive, name),
            )
        return self._journal

    def _selected(self, info: FileInfo) -> bool:
        if self._everything:
            return True
        path = info.relpath
        return any(fnmatchcase(path, p) for p in self.params.include) and not any(
            fnmatchcase(path, p) for p in self.params.exclude
        )

    def _listing(self) -> Iterator[FileInfo]:
        return (info for info in self.source.list_files(self.parent) if self._selected(info))

    def _candidates(self) -> Iterator[FileInfo | names.Refused]:
        """The selected landing files, each either safe to stage or refused with a reason:
        a symbolic link (never followed), a name that is not safe (``..``, empty segments,
        control characters, undecodable bytes) or that the staging storage cannot hold, or
        a name that is both a file and a folder prefix of other files."""
        listing = self.source.list_files(self.parent)
        if scheme_of(self.parent) != "file":  # a folder cannot also be a file on a filesystem
            listing = names.split_object_prefixes(listing)
        for item in listing:
            info = item.info if isinstance(item, names.Refused) else item
            if not self._selected(info):
                continue
            if isinstance(item, names.Refused):
                yield item
            elif info.is_link:
                yield names.Refused(info, "a symbolic link: not followed")
            else:
                problem = names.name_problem(info.relpath) or self.target.name_problem(
                    self.dump, info.relpath
                )
                yield names.Refused(info, problem) if problem else info

    def _needs_staging(self, info: FileInfo) -> bool:
        if info.relpath in self._ahead:  # read with its chunk
            if self._ahead[info.relpath] is None:
                del self._ahead[info.relpath]
                return False
            return True
        return self._stale(info, self.journal.get(info.relpath))

    @staticmethod
    def _stale(info: FileInfo, entry: Entry | None) -> bool:
        """Whether a listed file needs staging, given its journal entry."""
        if entry is None:
            return True
        if entry.status in IN_POST_STAGING:
            return False  # staged already; post_staging has yet to finish it
        return not entry.source.same_version_as(info)

    # -- transfer ---------------------------------------------------------------------------

    @task
    def transfer(self, ctx: TaskContext) -> dict[str, Any]:
        """Copy every landing file (not staged yet) to staging, through the transformation."""
        if self.transform is not None and not self.transform.per_file:
            return self._transfer_notebook(ctx)
        self._sweep_after_a_killed_run(ctx)
        from lakeroutine.staging import workers  # subprocess and pickle: not for validate

        transformer = (
            workers.Transformer(
                self.transform,
                self.params.py_exec_args or {},
                self.params.workers,
                self.params.max_workers,
            )
            if self.transform
            else None
        )
        try:
            return self._transfer_per_file(ctx, transformer)
        finally:
            if transformer is not None:
                transformer.close()

    def _transfer_per_file(
        self, ctx: TaskContext, transformer: workers.Transformer | None
    ) -> dict[str, Any]:
        progress = ctx.progress("staging")
        counts = {"staged": 0, "skipped": 0, "refused": 0, "outputs": 0, "bytes": 0}
        refusals = _Refusals(ctx)
        written = 0  # bytes of the staged files' outputs (for lineage)

        def stage(item: FileInfo | names.Refused) -> tuple[str, int, int, int]:
            ctx.check_cancelled()
            if isinstance(item, names.Refused):
                refusals.add(item.info, item.reason)
                return "refused", 0, 0, 0
            info = item
            if not self._needs_staging(info):
                return "skipped", 0, 0, 0
            drifted = self._schema_drift(info)
            if drifted:
                refusals.add(info, drifted)
                return "refused", 0, 0, 0
            try:
                if transformer is None:
                    outputs = [self._copy_verified(info)]
                else:
                    outputs = self._transform_one(info, transformer)
            except _Refuse as exc:
                refusals.add(info, str(exc))
                return "refused", 0, 0, 0
            except PER_FILE_ERRORS as exc:
                refusals.add(info, _file_problem(exc))
                return "refused", 0, 0, 0
            self.journal.record_staged(info, [o.relpath for o in outputs])
            return "staged", len(outputs), info.size, sum(o.size or 0 for o in outputs)

        candidates = _counted(self._candidates(), progress)
        if transformer is None and self.params.expected_schema is None:  # plain copies
            candidates = self._claimed_ahead(candidates)
        try:
            workers = self._copy_workers() if transformer is None else self.params.max_workers
            for outcome, outputs, size, wrote in parallel_map(stage, candidates, workers):
                counts[outcome] += 1
                written += wrote
                counts["outputs"] += outputs
                counts["bytes"] += size
                progress.advance()
        finally:
            progress.close()
            self._ahead.clear()
        log.info(
            "%s: staged %s (%d already staged, %d refused) into %s",
            ctx.executor,
            counted(counts["staged"], "file"),
            counts["skipped"],
            counts["refused"],
            self.dump,
        )
        self._block_state.delete("unfinished_transfer")
        self._declare_transfer(ctx, counts["staged"], counts["bytes"], counts["outputs"], [written])
        result = {**counts, "dump_directory": self.dump}
        if refusals.items:
            result["refused_files"] = refusals.items
        refusals.finish(self.params.on_refused)
        return result

    def _claimed_ahead(
        self, candidates: Iterator[FileInfo | names.Refused]
    ) -> Iterator[FileInfo | names.Refused]:
        """Plain copies, a chunk at a time: read the chunk's journal entries at once, then
        claim the staging names of the files to stage in one durable write before any of
        them is copied (one state write per chunk, not one per few files)."""
        settle = getattr(self.source, "settle", None) if self.source is self.target else None
        journalled = self.journal.count() > 0  # an empty journal has no entry to read
        for chunk in _chunks(candidates, CLAIM_BATCH):
            infos = [item for item in chunk if isinstance(item, FileInfo)]
            entries = self.journal.get_many([info.relpath for info in infos]) if journalled else {}
            claims = []
            for info in infos:
                if self._stale(info, entries.get(info.relpath)):
                    key = self._source_key(info)
                    claims.append((key, info.relpath, self._legacy_keys(key)))
                else:
                    self._ahead[info.relpath] = None
            if claims:
                self._ahead.update(self.journal.claim_names(claims))
                if settle is not None:  # files written just now: one wait for the chunk
                    settle([info for info in infos if self._ahead.get(info.relpath)])
            yield from chunk

    def _copy_workers(self, *, archiving: bool = False) -> int:
        """Threads for plain copies: ``max_workers``, or one where every location involved
        is a folder the kernel serves without waiting (a local disk, tmpfs). There a small
        file's copy is a few quick system calls, each of which hands the interpreter lock to
        another thread: eight threads took twice the CPU of one, and longer."""
        places = [(self.source, self.parent)]
        places.append((self.archive_store, self.archive) if archiving else (self.target, self.dump))
        for storage, location in places:
            waits = getattr(storage, "waits_on_io", None)
            if waits is None or waits(location):
                return self.params.max_workers
        return 1

    def _schema_drift(self, info: FileInfo) -> str | None:
        """Why the file does not match ``expected_schema`` (moved to its quarantine if one
        is set), or None."""
        schema = self.params.expected_schema
        if schema is None:
            return None
        from lakeroutine.staging.file_schema import screen

        where = schema.quarantine_directory
        storages = self.context.storages.with_options(self.params.storage_settings())
        quarantine = storages.for_url(where) if where else None
        return screen(schema, self.source, info, quarantine)

    def _sweep_after_a_killed_run(self, ctx: TaskContext) -> None:
        """A transfer that did not end (its task state is cleared on success) may have left
        temporary files in staging: remove those whose writer is gone."""
        sweep = getattr(self.target, "sweep_temporaries", None)
        if sweep is None:
            return
        if self._block_state.get("unfinished_transfer") is not None:
            removed = sweep(self.dump)
            if removed:
                log.info(
                    "%s: removed %s of a killed run",
                    ctx.executor,
                    counted(removed, "temporary file"),
                )
        self._block_state.set("unfinished_transfer", ctx.run_id)

    def _sweep_archive_after_a_killed_run(self, ctx: TaskContext) -> None:
        """An archive write killed mid-way leaves its private temporary in the archive:
        removed by the next post_staging (as transfer sweeps staging)."""
        sweep = getattr(self.archive_store, "sweep_temporaries", None)
        if sweep is None or self.params.archive_or_delete != "archive":
            return
        state = self._post_staging_state
        if state.get("unfinished_post_staging") is not None:
            removed = sweep(self.archive)
            if removed:
                log.info("%s: removed %d temporary files of a killed run", ctx.executor, removed)
        state.set("unfinished_post_staging", ctx.run_id)

    @property
    def _post_staging_state(self) -> TaskState:
        return TaskState(self.context.state, f"{self.journal.scope}:post_staging")

    @property
    def _block_state(self) -> TaskState:
        """State of this block's locations, whatever its transformation's args."""
        return TaskState(self.context.state, f"{self.journal.scope}:transfer")

    def _claim(self, source: str, outputs: list[str]) -> set[str]:
        """Own each output name for ``source`` before writing it; a name another landing
        file (or block) wrote is refused. Returns the names ``source`` owned already."""
        if len(outputs) == 1 and source == f"{self._landing_digest}\0{outputs[0]}":
            ahead = self._ahead.pop(outputs[0], None)  # claimed with its chunk
            if ahead is not None:
                owned_before, owner = ahead
                if owner is not None:
                    _refuse_taken(outputs[0], owner)
                return {outputs[0]} if owned_before else set()
        owned, taken = self.journal.claim_outputs(source, outputs, self._legacy_keys(source))
        if taken:
            _refuse_taken(*next(iter(taken.items())))
        return owned

    def _publish(
        self,
        source_key: str,
        outputs: list[tuple[Path | FileInfo, str, int | None]],
        workers: int = 1,
        made_here: bool = False,
    ) -> list[FileInfo]:
        """Claim the staging names, then write each output (a local file to upload or a
        file of the staging storage to copy) under its name, ``workers`` at a time:
        create-only where the name is new, so a file there from elsewhere is refused, never
        overwritten. Local files ``made_here`` (a transformation's outputs, in the run's
        own temporary folder) are moved in where the storage can (``adopt``)."""
        owned = self._claim(source_key, [name for _, name, _ in outputs])
        written_names: set[str] = set()
        lock = threading.Lock()
        upload = getattr(self.target, "adopt", None) if made_here else None
        upload = upload or self.target.upload

        def write(output: tuple[Path | FileInfo, str, int | None]) -> FileInfo:
            item, name, size = output
            url = self.target.join(self.dump, name)
            overwrite = name in owned
            try:
                if isinstance(item, FileInfo):
                    copy = self.target.copy(item, url, overwrite=overwrite)
                else:
                    copy = upload(item, url, overwrite=overwrite, expected_size=size)
            except FileExistsError:
                raise _Refuse(
                    f"staging already holds {names.shown(name)}, not written from this file"
                ) from None
            except SourceChanged as exc:
                raise _Refuse(f"it changed while it was staged: {exc}") from None
            expected = item.size if isinstance(item, FileInfo) else size
            if expected is not None and copy.size != expected:
                self.target.delete_many([url])  # never leave an unverified copy
                if isinstance(item, FileInfo) and self._changed_since_listed(item):
                    raise _Refuse(  # the source's doing: that file refused, the rest staged
                        f"it changed while it was staged (its copy had {copy.size} bytes, "
                        f"{expected} were listed); the copy was removed"
                    )
                raise TaskError(  # the storage wrote something else: stop, loudly
                    f"copy of {names.shown(name)} to {url} does not match its source "
                    f"({copy.size} bytes, expected {expected}); the copy was removed"
                )
            with lock:
                written_names.add(name)
            return FileInfo(  # under its staging name (dataclasses.replace: twice the cost)
                copy.url, name, copy.size, copy.mtime, copy.etag, copy.version, copy.is_link
            )

        try:
            if workers <= 1:  # a plain copy's one output: no generator layer
                return [write(output) for output in outputs]
            return list(parallel_map(write, outputs, workers))
        except _Refuse:
            # Give back the new names not written; keep those written (they are ours).
            unwritten = [n for _, n, _ in outputs if n not in owned | written_names]
            self.journal.release_outputs(source_key, unwritten, self._legacy_keys(source_key))
            raise

    def _changed_since_listed(self, listed: FileInfo) -> bool:
        """Whether the landing file is gone or another version than the one listed."""
        now = self.source.stat(listed.url)
        return now is None or not now.same_version_as(listed)

    def _source_key(self, info: FileInfo) -> str:
        """Who owns an output in the state: a digest of the landing location (never its
        text, which may hold a secret) and the landing name."""
        return f"{self._landing_digest}\0{info.relpath}"

    def _legacy_keys(self, source_key: str) -> tuple[str, ...]:
        """The same owner as claims written before owners were keyed by digest spelled it."""
        digest_part, _, relpath = source_key.partition("\0")
        return (f"{self._landing_key}\0{relpath}",) if digest_part == self._landing_digest else ()

    def _copy_verified(self, info: FileInfo) -> FileInfo:
        name = info.relpath  # proven safe by names.name_problem
        key = self._source_key(info)
        if self.source is self.target:  # server-side (locally: a kernel copy, never a
            # link to landing), pinned to the listed version
            [written] = self._publish(key, [(info, name, info.size)])
        elif scheme_of(self.parent) == "file":  # uploaded from its own path
            [written] = self._publish(key, [(Path(info.url), name, info.size)])
        else:
            with tempfile.TemporaryDirectory(prefix="lakeroutine-") as tmp:
                local = Path(tmp) / "file"
                self.source.download(info.url, local)
                [written] = self._publish(key, [(local, name, info.size)])
        if self.source is self.target and not written.same_content_as(info):
            self.target.delete_many([written.url])
            raise TaskError(
                f"copy of {info.url} to {written.url} does not match its source; "
                "the copy was removed"
            )
        return written

    def _transform_one(self, info: FileInfo, transformer: workers.Transformer) -> list[FileInfo]:
        from lakeroutine.staging import workers

        with transformer.scratch.pair() as (in_dir, out_dir):
            name = posixpath.basename(info.relpath)
            if scheme_of(self.parent) == "file":
                source = Path(info.url)
            else:
                source = in_dir / name
                self.source.download(info.url, source)
            try:
                transformer(source, out_dir / name, info.size)
            except workers.WorkerDied as exc:
                raise _Refuse(f"its transformation's worker process died twice ({exc})") from None
            except workers.TransformFailed as exc:
                raise TaskError(
                    f"transformation failed on {names.shown(info.relpath)}: {exc.type_name}: {exc}"
                ) from None
            except Exception as exc:
                raise TaskError(
                    f"transformation failed on {names.shown(info.relpath)}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            folder = posixpath.dirname(info.relpath)
            outputs = self._outputs(out_dir, folder)
            return self._publish(self._source_key(info), outputs, made_here=True)

    def _outputs(self, out_dir: Path, prefix: str) -> list[tuple[Path, str, int | None]]:
        """The files a transformation wrote, each with its staging name (checked like a
        landing name: a transformation cannot write outside staging either)."""
        produced = []
        for path in sorted(out_dir.rglob("*")):
            if path.is_symlink():
                raise TaskError(f"the transformation wrote a symbolic link {path.name}")
            if not path.is_file():
                continue
            rel = path.relative_to(out_dir).as_posix()
            name = posixpath.join(prefix, rel) if prefix else rel
            problem = names.name_problem(name) or self.target.name_problem(self.dump, name)
            if problem:
                raise _Refuse(f"its output {names.shown(name)} cannot be staged: {problem}")
            produced.append((path, name, path.stat().st_size))
        return produced

    def _transfer_notebook(self, ctx: TaskContext) -> dict[str, Any]:
        assert self.transform is not None
        self._sweep_after_a_killed_run(ctx)
        refusals = _Refusals(ctx)
        batch = []
        for item in self._candidates():
            if isinstance(item, names.Refused):
                refusals.add(item.info, item.reason)
            elif self._needs_staging(item):
                batch.append(item)
        if not batch:
            self._block_state.delete("unfinished_transfer")
            log.info("%s: nothing new to stage in %s", ctx.executor, self.parent)
            self._declare_transfer(ctx, 0, 0, 0, [])
            refusals.finish(self.params.on_refused)
            return {
                "staged": 0,
                "refused": refusals.count,
                "outputs": 0,
                "bytes": 0,
                "dump_directory": self.dump,
            }
        progress = ctx.progress("preparing working folder")
        progress.set_total(len(batch))
        with tempfile.TemporaryDirectory(prefix="lakeroutine-") as tmp:
            parent_dir, dump_dir = Path(tmp, "landing"), Path(tmp, "staging")
            parent_dir.mkdir()
            dump_dir.mkdir()

            def fetch(info: FileInfo) -> FileInfo | None:
                ctx.check_cancelled()
                local = parent_dir.joinpath(*info.relpath.split("/"))
                local.parent.mkdir(parents=True, exist_ok=True)
                try:
                    self.source.download(info.url, local)
                except PER_FILE_ERRORS as exc:  # that file is refused, the rest staged
                    refusals.add(info, _file_problem(exc))
                    local.unlink(missing_ok=True)
                    return info
                finally:
                    progress.advance()
                return None

            failed = [i for i in parallel_map(fetch, batch, self.params.max_workers) if i]
            batch = [info for info in batch if info not in failed]
            progress.close()
            sep = os.sep
            trailing = self.params.parent_directory.endswith(("/", sep))
            try:
                transforms.run_notebook(
                    self.transform,
                    str(parent_dir) + (sep if trailing else ""),
                    str(dump_dir) + (sep if trailing else ""),
                    self.params.py_exec_args or {},
                )
            except Exception as exc:
                raise TaskError(
                    f"transformation {self.transform.target} failed: {type(exc).__name__}: {exc}"
                ) from exc
            ctx.check_cancelled()
            try:
                # The notebook's outputs belong to the block as a whole (its landing).
                outputs = self._publish(
                    f"{self._landing_digest}\0",
                    self._outputs(dump_dir, ""),
                    self.params.max_workers,
                    made_here=True,
                )
            except _Refuse as exc:
                raise TaskError(f"the notebook's output was refused: {exc}") from None
        self._block_state.delete("unfinished_transfer")
        written = [o.relpath for o in outputs]
        for info in batch:
            self.journal.record_staged(info, written if len(written) <= 100 else [])
        size = sum(info.size for info in batch)
        self._declare_transfer(ctx, len(batch), size, len(outputs), [o.size or 0 for o in outputs])
        log.info(
            "%s: staged %s as %s into %s",
            ctx.executor,
            counted(len(batch), "file"),
            counted(len(outputs), "output"),
            self.dump,
        )
        result: dict[str, Any] = {
            "staged": len(batch),
            "refused": refusals.count,
            "outputs": len(outputs),
            "bytes": size,
            "dump_directory": self.dump,
        }
        if refusals.items:
            result["refused_files"] = refusals.items
        refusals.finish(self.params.on_refused)
        return result

    def _declare_transfer(
        self, ctx: TaskContext, files: int, size: int, outputs: int, written: list[int]
    ) -> None:
        """What transfer read and wrote, for lineage (:mod:`lakeroutine.lineage`)."""
        ctx.lineage.read(self._location(self.source, self.parent, files, size))
        ctx.lineage.wrote(self._location(self.target, self.dump, outputs, sum(written)))

    @staticmethod
    def _location(storage: Storage, url: str, files: int, size: int | None) -> lineage.Location:
        service = getattr(storage, "service_name", None)
        return lineage.Location(
            url, files=files, bytes=size, service=service(url) if service else None
        )

    # -- post_staging ------------------------------------------------------------------------

    @task
    def post_staging(self, ctx: TaskContext) -> dict[str, Any]:
        """Archive or delete the landing files that transfer staged and verified."""
        mode = self.params.archive_or_delete
        counts = {"archived": 0, "deleted": 0, "changed_since_staged": 0}
        if self.journal.count() == 0:
            log.info("%s: nothing staged to %s", ctx.executor, mode)
            return {**counts, "mode": mode}

        # Only journalled files that are still the version staged are touched, checked when
        # each is removed; a file that changed or arrived after transfer listed it is left
        # alone. Work goes in chunks of the listing, so memory stays flat.
        progress = ctx.progress("archiving" if mode == "archive" else "deleting")
        progress.set_total(self.journal.count())  # at most this many to finish
        self._sweep_archive_after_a_killed_run(ctx)
        self._finish_claimed(ctx, counts, progress)
        chunk: list[tuple[Entry, FileInfo]] = []
        for info, entry in self._listed_entries():
            if entry is None or entry.status in IN_POST_STAGING:
                continue
            if not entry.source.same_version_as(info):
                self._changed(ctx, info, counts)
                self.journal.remove([info.relpath])
                continue
            chunk.append((entry, info))
            if len(chunk) == DELETE_BATCH:
                self._finish(chunk, ctx, counts, progress)
                chunk = []
        if chunk:
            self._finish(chunk, ctx, counts, progress)
        progress.close()
        self._forget_vanished()
        self._post_staging_state.delete("unfinished_post_staging")
        log.info("%s: %sd %s", ctx.executor, mode, counted(counts[mode + "d"], "landing file"))
        done = counts[mode + "d"]
        ctx.lineage.read(self._location(self.source, self.parent, done, None))
        if mode == "archive":
            ctx.lineage.wrote(self._location(self.archive_store, self.archive, done, None))
        result: dict[str, Any] = {**counts, "mode": mode}
        if mode == "archive":
            result["archive_directory"] = self.archive
        return result

    def _listed_entries(self) -> Iterator[tuple[FileInfo, Entry | None]]:
        """Each listed landing file that could have been staged, with its journal entry
        (read a chunk of the listing at a time: one read per chunk, not per file)."""
        listed = (
            info
            for info in self._listing()
            if not info.is_link and not names.name_problem(info.relpath)  # never staged
        )
        for chunk in _chunks(listed, DELETE_BATCH):
            entries = self.journal.get_many([info.relpath for info in chunk])
            for info in chunk:
                yield info, entries.get(info.relpath)

    def _changed(self, ctx: TaskContext, info: FileInfo, counts: dict[str, int]) -> None:
        log.warning(
            "%s: %s changed since it was staged; left in landing",
            ctx.executor,
            names.shown(info.url),
        )
        counts["changed_since_staged"] += 1

    def _finish_claimed(self, ctx: TaskContext, counts: dict[str, int], progress: Any) -> None:
        """Finish what a killed post_staging had claimed: a file it had moved to its claim
        name is archived and removed; an entry whose file was never moved goes back to
        the main pass."""
        entries = list(self.journal.entries(statuses=IN_POST_STAGING, batch=DELETE_BATCH))
        held: list[tuple[Entry, FileInfo]] = []
        for entry in entries:
            claimed = self.source.claimed(entry.source)
            if claimed is not None and not claimed.same_version_as(entry.source):
                self.source.release([claimed])  # not the version staged: never removed
                claimed = None
            if claimed is None:
                self.journal.set_status(entry.relpath, STAGED)
            else:
                held.append((entry, claimed))
        if held:
            self._archive_and_remove(held, ctx, counts, progress)

    def _finish(
        self,
        chunk: list[tuple[Entry, FileInfo]],
        ctx: TaskContext,
        counts: dict[str, int],
        progress: Any,
    ) -> None:
        """Claim, archive (if asked) then remove the sources of one chunk of staged files;
        an entry leaves the journal only once its source is gone."""
        ctx.check_cancelled()
        self.target.make_durable(url for entry, _ in chunk for url in entry.outputs)
        self.journal.set_statuses([entry.relpath for entry, _ in chunk], CLAIMING)
        held: list[tuple[Entry, FileInfo]] = []
        claims = self.source.claim([i for _, i in chunk])
        for (entry, info), claimed in zip(chunk, claims, strict=True):
            if claimed is None:
                self._changed(ctx, info, counts)
                self.journal.remove([entry.relpath])
            else:
                held.append((entry, claimed))
        self._archive_and_remove(held, ctx, counts, progress)

    def _archive_and_remove(
        self,
        held: list[tuple[Entry, FileInfo]],
        ctx: TaskContext,
        counts: dict[str, int],
        progress: Any,
    ) -> None:
        mode = self.params.archive_or_delete
        if mode == "archive":

            def archive(item: tuple[Entry, FileInfo]) -> tuple[Entry, FileInfo] | None:
                ctx.check_cancelled()
                try:
                    self._archive_one(*item, ctx)
                except SourceChanged:
                    return item  # replaced or rewritten since staged: give it back
                return None

            changed = []
            for item in parallel_map(archive, held, self._copy_workers(archiving=True)):
                progress.advance()
                if item is not None:
                    changed.append(item)
            if changed:
                self.source.release([claimed for _, claimed in changed])
                for _, claimed in changed:
                    self._changed(ctx, claimed, counts)
                self.journal.remove([entry.relpath for entry, _ in changed])
                held = [item for item in held if item not in changed]
            self.archive_store.make_durable([self.archive])
        ctx.check_cancelled()
        kept = self.source.remove_claimed([claimed for _, claimed in held])
        for info in kept:
            self._changed(ctx, info, counts)
        self.journal.remove([entry.relpath for entry, _ in held])
        counts[mode + "d"] += len(held) - len(kept)
        if mode == "delete":
            progress.advance(len(held))

    def _archive_one(self, entry: Entry, info: FileInfo, ctx: TaskContext) -> None:
        """Copy one held landing file to the archive, never over an earlier archived file.

        Only a second-choice name is journalled (before the copy): a run killed after
        copying to the first-choice name finds that copy there with the same bytes."""
        url = entry.archive_url or self.archive_store.join(self.archive, info.relpath)
        for _attempt in range(2):
            try:
                written = self._archive_copy(info, url)
            except FileExistsError:
                existing = self.archive_store.stat(url)
                if existing is None or not self._same_bytes(existing, info):
                    # An earlier archived file of that name: never overwrite it.
                    stem, dot, suffix = posixpath.basename(info.relpath).partition(".")
                    new_name = f"{stem}.{ctx.run_id}{dot}{suffix}"
                    name = posixpath.join(posixpath.dirname(info.relpath), new_name)
                    url = self.archive_store.join(self.archive, name)
                    self.journal.set_status(info.relpath, ARCHIVING, name)
                    continue
                written = existing  # this file, archived by a run that was killed
            if written.size != info.size:
                raise TaskError(f"archive copy {url} of {info.url} does not match its source")
            return
        raise TaskError(f"could not find a free archive name for {info.url}")

    def _same_bytes(self, archived: FileInfo, source: FileInfo) -> bool:
        """Whether an archived file holds exactly the source's bytes: by content token
        where both storages give one, byte by byte for local files, else assume not (a new
        archive name is chosen: an extra copy, never a lost one)."""
        if archived.size != source.size:
            return False
        if archived.etag and source.etag:
            return archived.etag == source.etag
        if scheme_of(archived.url) == "file" and scheme_of(source.url) == "file":
            return filecmp.cmp(archived.url, source.url, shallow=False)
        if scheme_of(archived.url) == "file" and _is_md5(source.etag):
            return _md5_of(archived.url) == source.etag  # e.g. an S3 object's ETag
        return False

    def _archive_copy(self, info: FileInfo, url: str) -> FileInfo:
        """Copy exactly the held version to ``url`` (create-only): pinned by its storage
        where it copies server-side, checked against the listed MD5 where it downloads."""
        if self.source is self.archive_store:
            return self.archive_store.copy(info, url, overwrite=False)
        with tempfile.TemporaryDirectory(prefix="lakeroutine-") as tmp:
            local = Path(tmp, "file")
            if scheme_of(self.parent) == "file":
                local = Path(info.url)
            else:
                self.source.download(info.url, local)
                if local.stat().st_size != info.size or (
                    _is_md5(info.etag) and _md5_of(str(local)) != info.etag
                ):
                    raise SourceChanged(f"{info.url} was replaced before it was archived")
            return self.archive_store.upload(local, url, overwrite=False, expected_size=info.size)

    def _forget_vanished(self) -> None:
        """Entries left after a full pass over the listing: every listed entry was finished
        or dropped as changed, so these landing files are gone (finished by a killed run,
        or removed by someone else). Either way nothing is left to do. Streamed in batches
        (no set of every listed file: memory stays flat)."""
        batch: list[str] = []
        for entry in self.journal.entries():
            if entry.status == STAGED and self.params.archive_or_delete == "archive":
                log.warning("%s vanished from landing before it was archived", entry.source.url)
            batch.append(entry.relpath)
            if len(batch) == DELETE_BATCH:
                self.journal.remove(batch)
                batch = []
        self.journal.remove(batch)


class _Refusals:
    """Landing files left in place because they could not be staged safely: each logged
    as a warning, the first ``REPORTED_REFUSALS`` named in the task's output."""

    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        self.count = 0
        self.items: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def add(self, info: FileInfo, reason: str) -> None:
        shown = names.shown(info.relpath)
        log.warning("%s: %s left in landing: %s", self.ctx.executor, shown, reason)
        with self._lock:
            self.count += 1
            if len(self.items) < REPORTED_REFUSALS:
                self.items.append({"file": shown, "reason": reason})

    def finish(self, on_refused: str) -> None:
        """With ``on_refused: fail``, fail the task now that everything else is staged."""
        if self.count and on_refused == "fail":
            first = self.items[0]
            raise TaskError(
                f"{counted(self.count, 'landing file')} could not be staged and "
                f"{'was' if self.count == 1 else 'were'} left in landing "
                f"(first: {first['file']}: {first['reason']})"
            )


def _counted(items: Iterator[Any], progress: Any) -> Iterator[Any]:
    """Pass ``items`` through; once the listing is exhausted, its size is the bar's total."""
    count = 0
    for item in items:
        count += 1
        yield item
    progress.set_total(count)
