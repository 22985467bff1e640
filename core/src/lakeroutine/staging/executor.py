"""StagingExecutor: copy landing files to staging (optionally transformed), then archive or
delete the originals, with nothing lost or doubled even if the run is killed.

``transfer`` publishes each output atomically, verifies it (size, and the storage's content
token where it gives one) and records the landing file in the journal. ``post_staging``
then archives or deletes only journalled files that are still the version staged.
"""

from __future__ import annotations

import filecmp
import hashlib
import logging
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from lakeroutine.concurrency import parallel_map
from lakeroutine.context import RunContext, TaskContext, digest
from lakeroutine.errors import RoutineError, TaskError
from lakeroutine.executor import Executor, Params, task
from lakeroutine.staging import transforms
from lakeroutine.staging.journal import ARCHIVING, STAGED, Entry, StagingJournal
from lakeroutine.storage.base import FileInfo, Storage, StorageError
from lakeroutine.storage.registry import scheme_of
from lakeroutine.types import Location

log = logging.getLogger("lakeroutine.staging")

DELETE_BATCH = 1000  # landing files finished per chunk (S3 deletes at most 1,000 keys a call)


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


def _inside(inner: str, outer: str) -> bool:
    return _dir_key(inner).startswith(_dir_key(outer))


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
    max_workers: int = Field(8, ge=1, le=128, description="Files copied at once")
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
    def _check_locations(self) -> StagingParams:
        parent, dump = self.parent_directory, self.dump_directory
        if _dir_key(parent) == _dir_key(dump):
            raise ValueError("parent_directory and dump_directory are the same location")
        if _inside(dump, parent):
            raise ValueError("dump_directory must not be inside parent_directory")
        if _inside(parent, dump):
            raise ValueError("parent_directory must not be inside dump_directory")
        if self.archive_directory is None:
            sibling = parent.rstrip("/" + os.sep) + "_archive"
            object.__setattr__(self, "archive_directory", sibling)
        archive = self.archive_directory or ""
        if _inside(archive, parent):
            raise ValueError("archive_directory must not be inside parent_directory")
        if _inside(archive, dump) or _inside(dump, archive):
            raise ValueError("archive_directory and dump_directory must not overlap")
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

    @property
    def journal(self) -> StagingJournal:
        if self._journal is None:
            scope = f"{self.name}:{digest(self.parent, self.dump)}"
            self._journal = StagingJournal(self.context.state, scope)
        return self._journal

    def _selected(self, info: FileInfo) -> bool:
        path = info.relpath
        return any(fnmatchcase(path, p) for p in self.params.include) and not any(
            fnmatchcase(path, p) for p in self.params.exclude
        )

    def _listing(self) -> Iterator[FileInfo]:
        return (info for info in self.source.list_files(self.parent) if self._selected(info))

    def _needs_staging(self, info: FileInfo) -> bool:
        entry = self.journal.get(info.relpath)
        if entry is None:
            return True
        if entry.status == ARCHIVING:
            return False  # staged already; post_staging has yet to finish it
        return not entry.source.same_version_as(info)

    # -- transfer ---------------------------------------------------------------------------

    @task
    def transfer(self, ctx: TaskContext) -> dict[str, Any]:
        """Copy every landing file (not staged yet) to staging, through the transformation."""
        if self.transform is not None and not self.transform.per_file:
            return self._transfer_notebook(ctx)
        function = transforms.load_function(self.transform) if self.transform else None
        args = self.params.py_exec_args or {}
        progress = ctx.progress("staging")
        counts = {"staged": 0, "skipped": 0, "outputs": 0, "bytes": 0}

        def stage(info: FileInfo) -> tuple[int, int, int]:
            ctx.check_cancelled()
            if not self._needs_staging(info):
                return 0, 0, 0
            if function is None:
                outputs = [self._copy_verified(info)]
            else:
                outputs = self._transform_one(info, function, args)
            self.journal.record_staged(info, [o.url for o in outputs])
            return 1, len(outputs), info.size

        try:
            for staged, outputs, size in parallel_map(
                stage, self._listing(), self.params.max_workers
            ):
                counts["staged" if staged else "skipped"] += 1
                counts["outputs"] += outputs
                counts["bytes"] += size
                progress.advance()
        finally:
            progress.close()
        log.info(
            "%s: staged %d files (%d already staged) into %s",
            ctx.executor,
            counts["staged"],
            counts["skipped"],
            self.dump,
        )
        return {**counts, "dump_directory": self.dump}

    def _copy_verified(self, info: FileInfo) -> FileInfo:
        url = self.target.join(self.dump, info.relpath)
        if self.source is self.target:
            written = self.target.copy(info, url)
        elif scheme_of(self.parent) == "file":
            written = self.target.upload(Path(info.url), url)
        else:
            with tempfile.TemporaryDirectory(prefix="lakeroutine-") as tmp:
                local = Path(tmp) / posixpath.basename(info.relpath)
                self.source.download(info.url, local)
                written = self.target.upload(local, url)
        same_storage = self.source is self.target
        if written.size != info.size or (same_storage and not written.same_content_as(info)):
            raise TaskError(
                f"copy of {info.url} to {url} does not match its source "
                f"({written.size} bytes, expected {info.size})"
            )
        return written

    def _transform_one(self, info: FileInfo, function: Any, args: dict[str, Any]) -> list[FileInfo]:
        with tempfile.TemporaryDirectory(prefix="lakeroutine-") as tmp:
            name = posixpath.basename(info.relpath)
            if scheme_of(self.parent) == "file":
                source = Path(info.url)
            else:
                source = Path(tmp, "in", name)
                source.parent.mkdir()
                self.source.download(info.url, source)
            out_dir = Path(tmp, "out")
            out_dir.mkdir()
            try:
                function(source, out_dir / name, **args)
            except Exception as exc:
                raise TaskError(
                    f"transformation failed on {info.relpath}: {type(exc).__name__}: {exc}"
                ) from exc
            folder = posixpath.dirname(info.relpath)
            return self._publish_folder(out_dir, folder)

    def _publish_folder(self, out_dir: Path, prefix: str, workers: int = 1) -> list[FileInfo]:
        """Upload every file below ``out_dir`` to staging under ``prefix``, verified."""
        produced = [p for p in sorted(out_dir.rglob("*")) if p.is_file()]

        def publish(path: Path) -> FileInfo:
            rel = path.relative_to(out_dir).as_posix()
            url = self.target.join(self.dump, posixpath.join(prefix, rel) if prefix else rel)
            written = self.target.upload(path, url)
            if written.size != path.stat().st_size:
                raise TaskError(f"upload of {rel} to {url} is incomplete")
            return written

        return list(parallel_map(publish, produced, workers))

    def _transfer_notebook(self, ctx: TaskContext) -> dict[str, Any]:
        assert self.transform is not None
        batch = [info for info in self._listing() if self._needs_staging(info)]
        if not batch:
            log.info("%s: nothing new to stage in %s", ctx.executor, self.parent)
            return {"staged": 0, "outputs": 0, "bytes": 0, "dump_directory": self.dump}
        progress = ctx.progress("preparing working folder")
        with tempfile.TemporaryDirectory(prefix="lakeroutine-") as tmp:
            parent_dir, dump_dir = Path(tmp, "landing"), Path(tmp, "staging")
            parent_dir.mkdir()
            dump_dir.mkdir()

            def fetch(info: FileInfo) -> None:
                ctx.check_cancelled()
                local = parent_dir.joinpath(*info.relpath.split("/"))
                local.parent.mkdir(parents=True, exist_ok=True)
                if scheme_of(self.parent) == "file":
                    shutil.copyfile(info.url, local)
                else:
                    self.source.download(info.url, local)
                progress.advance()

            for _ in parallel_map(fetch, batch, self.params.max_workers):
                pass
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
            outputs = self._publish_folder(dump_dir, "", self.params.max_workers)
        urls = [o.url for o in outputs]
        for info in batch:
            self.journal.record_staged(info, urls if len(urls) <= 100 else [])
        size = sum(info.size for info in batch)
        log.info(
            "%s: staged %d files as %d outputs into %s",
            ctx.executor,
            len(batch),
            len(outputs),
            self.dump,
        )
        return {
            "staged": len(batch),
            "outputs": len(outputs),
            "bytes": size,
            "dump_directory": self.dump,
        }

    # -- post_staging ------------------------------------------------------------------------

    @task
    def post_staging(self, ctx: TaskContext) -> dict[str, Any]:
        """Archive or delete the landing files that transfer staged and verified."""
        mode = self.params.archive_or_delete
        counts = {"archived": 0, "deleted": 0, "changed_since_staged": 0}
        if self.journal.count() == 0:
            log.info("%s: nothing staged to %s", ctx.executor, mode)
            return {**counts, "mode": mode}

        # Only journalled files that are still the version staged are touched; a file that
        # changed or arrived after transfer listed it is left alone. Work goes in chunks of
        # the listing, so memory stays flat however many files there are.
        progress = ctx.progress("archiving" if mode == "archive" else "deleting")
        chunk: list[tuple[Entry, FileInfo]] = []
        for info in self._listing():
            entry = self.journal.get(info.relpath)
            if entry is None:
                continue
            if not entry.source.same_version_as(info):
                log.warning(
                    "%s: %s changed since it was staged; left in landing", ctx.executor, info.url
                )
                counts["changed_since_staged"] += 1
                self.journal.remove([info.relpath])
                continue
            chunk.append((entry, info))
            if len(chunk) == DELETE_BATCH:
                counts[mode + "d"] += self._finish(chunk, ctx, progress)
                chunk = []
        if chunk:
            counts[mode + "d"] += self._finish(chunk, ctx, progress)
        progress.close()
        self._forget_vanished()
        log.info("%s: %s %d landing files", ctx.executor, mode + "d", counts[mode + "d"])
        result: dict[str, Any] = {**counts, "mode": mode}
        if mode == "archive":
            result["archive_directory"] = self.archive
        return result

    def _finish(self, chunk: list[tuple[Entry, FileInfo]], ctx: TaskContext, progress: Any) -> int:
        """Archive (if asked) then delete the sources of one chunk of staged files; an entry
        leaves the journal only once its source is gone."""
        ctx.check_cancelled()
        self.target.make_durable(url for entry, _ in chunk for url in entry.outputs)
        if self.params.archive_or_delete == "archive":

            def archive(item: tuple[Entry, FileInfo]) -> None:
                ctx.check_cancelled()
                self._archive_one(*item, ctx)

            for _ in parallel_map(archive, chunk, self.params.max_workers):
                progress.advance()
            self.archive_store.make_durable([self.archive])
        ctx.check_cancelled()
        self.source.delete_many(info.url for _, info in chunk)
        self.journal.remove([info.relpath for _, info in chunk])
        if self.params.archive_or_delete == "delete":
            progress.advance(len(chunk))
        return len(chunk)

    def _archive_one(self, entry: Entry, info: FileInfo, ctx: TaskContext) -> None:
        """Copy one landing file to the archive, never over an earlier archived file.

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
                    url = self.archive_store.join(
                        self.archive, posixpath.join(posixpath.dirname(info.relpath), new_name)
                    )
                    self.journal.set_status(info.relpath, ARCHIVING, url)
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
        if self.source is self.archive_store:
            return self.archive_store.copy(info, url, overwrite=False)
        with tempfile.TemporaryDirectory(prefix="lakeroutine-") as tmp:
            local = Path(tmp, "file")
            if scheme_of(self.parent) == "file":
                local = Path(info.url)
            else:
                self.source.download(info.url, local)
            return self.archive_store.upload(local, url, overwrite=False)

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
