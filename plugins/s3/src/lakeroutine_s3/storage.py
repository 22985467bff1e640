"""``s3://`` locations as a lakeroutine storage (the protocol in ``lakeroutine.storage.base``).

Fast path for S3 to S3: one CopyObject per object, verified by comparing the ETag in its
answer with the ETag the listing gave (no HEAD per object); deletes go in DeleteObjects
batches of 1,000. Large objects use multipart uploads, ranged downloads and UploadPartCopy.
Every write is atomic on S3: an object appears only once its PUT, copy or multipart upload
completes.
"""

from __future__ import annotations

import logging
import posixpath
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from lakeroutine.aws import error_code
from lakeroutine.service_errors import service_error_text
from lakeroutine.storage.base import (
    ConditionalDeletes,
    FileInfo,
    SourceChanged,
    StorageError,
    is_temporary_name,
)

from lakeroutine_s3 import etags, listing, transfers, urls
from lakeroutine_s3.client import (
    PRECONDITION,
    S3Client,
    is_not_found,
    is_precondition_failed,
    location_error,
    parse_timestamp,
)
from lakeroutine_s3.settings import S3Settings
from lakeroutine_s3.transfers import quoted, unquoted

log = logging.getLogger("lakeroutine.s3")
DELETE_BATCH = 1000  # S3's limit per DeleteObjects request
MAX_KEY_BYTES = 1024  # S3's limit on a key's length


def _is_multipart_etag(etag: str | None) -> bool:
    """Multipart (and some encrypted) objects have an ETag that is not the content's MD5:
    a copy of them gets a different ETag, so ETags cannot verify that copy."""
    return bool(etag) and "-" in (etag or "")


def _about(exc: Exception, local_path: Path) -> bool:
    """Whether ``exc`` is the local source file refusing to be read or gone."""
    return (
        isinstance(exc, (PermissionError, FileNotFoundError))
        and exc.filename is not None
        and (Path(exc.filename) == local_path)
    )


def _is_denied(exc: Exception) -> bool:
    """Whether S3 refused the request to this login (403: AccessDenied, or a bare HEAD)."""
    return error_code(exc) in ("AccessDenied", "403")


class S3Storage(ConditionalDeletes):
    """Objects below ``s3://bucket/prefix/`` locations."""

    scheme = "s3"

    def __init__(self, **options: Any) -> None:
        self.settings = S3Settings.from_options(options)
        self._client: S3Client | None = None
        self._lock = threading.Lock()

    @property
    def s3(self) -> S3Client:
        """The client, built on first use (so building a routine never imports boto3)."""
        with self._lock:
            if self._client is None:
                client = S3Client(self.settings)
                listing.install(client.client.meta.events, parse_timestamp)
                self._client = client
            return self._client

    @property
    def client(self) -> Any:
        return self.s3.client

    # -- locations ------------------------------------------------------------------------

    def join(self, base: str, relpath: str) -> str:
        return urls.join(base, relpath)

    def canonical(self, url: str) -> str:
        """``s3://bucket/prefix/`` whether given as ``s3://`` or ``s3a://``."""
        location = urls.parse(url)
        return f"s3://{location.bucket}/{location.prefix}"

    def name_problem(self, base: str, relpath: str) -> str | None:
        key = urls.parse(self.join(base, relpath)).key
        if len(key.encode("utf-8")) > MAX_KEY_BYTES:
            return f"the key would be longer than S3's {MAX_KEY_BYTES} bytes"
        return None

    def check_location(self, base: str, *, write: bool) -> None:
        """Bucket exists and the credentials may list it (reads: list the prefix too)."""
        location = urls.parse(base)
        try:
            s3 = self.s3
            try:
                s3.client.head_bucket(Bucket=location.bucket)
            except Exception as exc:
                # A HEAD answer has no body: a bare 403 may be a denial or refused
                # credentials. The listing below answers with the error's code.
                if error_code(exc) != "403":
                    raise
                write = False
            if not write:
                s3.client.list_objects_v2(Bucket=location.bucket, Prefix=location.prefix, MaxKeys=1)
        except StorageError:
            raise
        except Exception as exc:
            raise location_error(exc, location.bucket, self._client) from None

    def list_files(self, base: str) -> Iterator[FileInfo]:
        """Every object below ``base``, one page (1,000 keys) in memory at a time: each page
        is let go before the next is asked for (botocore's paginator holds two)."""
        location = urls.parse(base)
        prefix = location.prefix
        request: dict[str, Any] = {"Bucket": location.bucket, "Prefix": prefix}
        while request:
            page = self.client.list_objects_v2(**request)
            token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
            request = {**request, "ContinuationToken": token} if token else {}
            contents = list(reversed(page.get("Contents", [])))
            del page
            while contents:
                item = contents.pop()  # each entry let go once listed
                key = item["Key"]
                if key.endswith("/") or is_temporary_name(posixpath.basename(key)):
                    continue  # folder markers, unfinished writes
                etag = unquoted(item.get("ETag"))
                yield FileInfo(
                    f"{location.scheme}://{location.bucket}/{key}",
                    key[len(prefix) :],
                    int(item["Size"]),
                    item["LastModified"].timestamp(),
                    etag,
                    etag,
                )

    def stat(self, url: str) -> FileInfo | None:
        location = urls.parse(url)
        try:
            answer = self.client.head_object(Bucket=location.bucket, Key=location.key)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise self._error("cannot read", url, exc) from None
        return self._info(
            url,
            answer["ContentLength"],
            unquoted(answer.get("ETag")),
            answer["LastModified"].timestamp(),
        )

    # -- moving bytes ---------------------------------------------------------------------

    def download(self, url: str, local_path: Path) -> None:
        location = urls.parse(url)
        settings = self.settings
        try:
            transfers.download(
                self.client,
                location.bucket,
                location.key,
                Path(local_path),
                settings.multipart_chunksize,
                settings.multipart_concurrency,
            )
        except (OSError, StorageError):
            raise
        except Exception as exc:
            if _is_denied(exc):  # this object only: refused, the others staged
                raise self._denied(url, exc) from None
            raise self._error("cannot download", url, exc) from None

    def upload(
        self,
        local_path: Path,
        url: str,
        *,
        overwrite: bool = True,
        expected_size: int | None = None,
    ) -> FileInfo:
        """One streamed PUT, or a multipart upload above ``multipart_threshold``. With
        ``overwrite=False`` the write is conditional (IfNoneMatch); a key already holding
        exactly these bytes (a lost reply's retry, a killed run) counts as written. With
        ``expected_size``, a file of another size is refused before anything is sent (its
        Content-MD5, computed from the same bytes, then stops a change during the PUT)."""
        location = urls.parse(url)
        local_path = Path(local_path)
        size = local_path.stat().st_size
        if expected_size is not None and size != expected_size:
            raise SourceChanged(
                f"{local_path} changed before it was uploaded ({size} bytes, expected "
                f"{expected_size}); nothing written to {url}"
            )
        settings = self.settings
        single = size <= settings.multipart_threshold
        try:
            if single:
                condition = {} if overwrite else {"IfNoneMatch": "*"}
                md5 = etags.single_part_etag(local_path)
                with open(local_path, "rb") as body:
                    answer = self.client.put_object(
                        Bucket=location.bucket,
                        Key=location.key,
                        Body=body,
                        ContentMD5=etags.content_md5(md5),
                        **condition,
                    )
                etags.check_written(answer, md5, url)
                return self._info(url, size, unquoted(answer.get("ETag")))
            if not overwrite:
                self._refuse_existing(url)
            transfers.upload_parts(
                self.client,
                local_path,
                location.bucket,
                location.key,
                size,
                settings.multipart_chunksize,
                settings.multipart_concurrency,
                overwrite=overwrite,
            )
        except Exception as exc:
            if not overwrite and (isinstance(exc, FileExistsError) or is_precondition_failed(exc)):
                same = self._holds_file(url, local_path, size, single)
                if same is not None:
                    return same
                raise FileExistsError(url) from None
            if isinstance(exc, StorageError) or _about(exc, local_path):
                raise  # ours, or the local source's own (unreadable, gone): that file only
            raise self._error("cannot upload to", url, exc) from None
        return self._verified_size(url, size)

    def _holds_file(self, url: str, local_path: Path, size: int, single: bool) -> FileInfo | None:
        """The object at ``url`` if it holds exactly ``local_path``'s bytes, as our upload
        would have written them (compared by ETag, computed locally); else None."""
        existing = self.stat(url)
        if existing is None or existing.size != size or not existing.etag:
            return None
        if single:
            expected = etags.single_part_etag(local_path)
        else:
            expected = etags.multipart_etag(local_path, self.settings.multipart_chunksize)
        return existing if existing.etag == expected else None

    def copy(self, source: FileInfo, url: str, *, overwrite: bool = True) -> FileInfo:
        """Server-side copy of the listed version of ``source`` (pinned by its ETag).

        The copy keeps the source's ETag wherever S3 allows it (a multipart source is
        copied with its own part layout), so the ETag verifies the copy and tells later
        whether an object already at ``url`` is this very copy."""
        src, dst = urls.parse(source.url), urls.parse(url)
        copy_source = {"Bucket": src.bucket, "Key": src.key}
        try:
            if not overwrite and self.settings.check_absent_before_copy:
                self._refuse_existing(url)
            if source.size > self.settings.multipart_copy_threshold or _is_multipart_etag(
                source.etag
            ):
                return self._copy_multipart(source, copy_source, url, overwrite=overwrite)
            kwargs: dict[str, Any] = {}
            if source.etag:
                kwargs["CopySourceIfMatch"] = quoted(source.etag)
            if not overwrite:
                kwargs["IfNoneMatch"] = "*"
            answer = self.client.copy_object(
                Bucket=dst.bucket, Key=dst.key, CopySource=copy_source, **kwargs
            )
        except Exception as exc:
            raise self._copy_error(exc, source, url, overwrite) from None
        etag = unquoted(answer.get("CopyObjectResult", {}).get("ETag"))
        if etags.encrypted_with_a_key(answer) and etag != source.etag:
            # KMS-encrypted objects' ETags are not their MD5: verify by size (one HEAD).
            return self._verified_size(url, source.size)
        if etags.is_md5(source.etag) and etags.is_md5(etag) and etag != source.etag:
            # Other bytes than those listed were copied: the source was rewritten in between
            # (S3 refuses such a copy by CopySourceIfMatch; some emulators do not). That
            # copy is removed: nothing unverified keeps a final name.
            self._delete_batch(
                dst.bucket,
                [{"Key": dst.key, "ETag": quoted(etag)}],
                allowed=("NoSuchKey", *PRECONDITION),
            )
            raise SourceChanged(
                f"{source.url} changed since it was listed: the copy {url} holds ETag {etag}, "
                f"the listing said {source.etag}"
            )
        return self._info(url, source.size, etag)

    def delete_many(self, urls_: Iterable[str]) -> None:
        """DeleteObjects in batches of up to 1,000 keys per bucket; missing keys are fine."""
        batches: dict[str, list[str]] = {}
        for url in urls_:
            location = urls.parse(url)
            batch = batches.setdefault(location.bucket, [])
            batch.append(location.key)
            if len(batch) == DELETE_BATCH:
                self._delete_batch(location.bucket, [{"Key": key} for key in batch])
                batches[location.bucket] = []
        for bucket, batch in batches.items():
            if batch:
                self._delete_batch(bucket, [{"Key": key} for key in batch])

    def make_durable(self, urls_: Iterable[str]) -> None:
        """Nothing to do: a completed S3 write is durable."""

    # -- removing exactly the version staged -------------------------------------------------

    def remove_claimed(self, files: Sequence[FileInfo]) -> list[FileInfo]:
        """DeleteObjects in batches of up to 1,000, each key conditional on the ETag it had
        when staged: S3 refuses (PreconditionFailed) to delete an object replaced since,
        so a replacement that arrives at any instant survives. Returns those kept."""
        kept: list[FileInfo] = []
        batches: dict[str, list[FileInfo]] = {}
        for info in files:
            location = urls.parse(info.url)
            batch = batches.setdefault(location.bucket, [])
            batch.append(info)
            if len(batch) == DELETE_BATCH:
                kept += self._delete_versions(location.bucket, batch)
                batches[location.bucket] = []
        for bucket, batch in batches.items():
            if batch:
                kept += self._delete_versions(bucket, batch)
        return kept

    def _delete_versions(self, bucket: str, files: list[FileInfo]) -> list[FileInfo]:
        objects = []
        for info in files:
            entry = {"Key": urls.parse(info.url).key}
            if info.etag:
                entry["ETag"] = quoted(info.etag)
            objects.append(entry)
        errors = self._delete_batch(bucket, objects, allowed=("NoSuchKey", *PRECONDITION))
        changed = {e.get("Key") for e in errors if e.get("Code") in PRECONDITION}
        return [info for info in files if urls.parse(info.url).key in changed]

    # -- helpers --------------------------------------------------------------------------

    def _copy_multipart(
        self, source: FileInfo, copy_source: dict[str, str], url: str, *, overwrite: bool
    ) -> FileInfo:
        """UploadPartCopy in the source's own part layout when it has one (its ETag then
        carries over), else in ``multipart_copy_part_size`` parts (verified by size)."""
        dst = urls.parse(url)
        pin = {"IfMatch": quoted(source.etag)} if source.etag else {}
        head = self.client.head_object(Bucket=copy_source["Bucket"], Key=copy_source["Key"], **pin)
        extra: dict[str, Any] = {"Metadata": head.get("Metadata", {})}
        if head.get("ContentType"):
            extra["ContentType"] = head["ContentType"]
        ranges = self._source_part_ranges(source, copy_source) or transfers.part_ranges(
            source.size, self.settings.multipart_copy_part_size
        )
        answer = transfers.copy_parts(
            self.client,
            copy_source,
            source.etag,
            dst.bucket,
            dst.key,
            ranges,
            self.settings.multipart_concurrency,
            overwrite=overwrite,
            extra=extra,
        )
        etag = unquoted(answer.get("ETag"))
        if etag is None:  # a lost reply's retry found the upload completed: look
            written = self.stat(url)
            etag = written.etag if written else None
        if etag is not None and etag == source.etag:
            return self._info(url, source.size, etag)
        return self._verified_size(url, source.size)

    def _source_part_ranges(
        self, source: FileInfo, copy_source: dict[str, str]
    ) -> list[tuple[int, int]] | None:
        """The byte ranges of a multipart source's own parts, so its copy is made of the
        same parts and keeps its ETag (by which a later run knows that copy for what it is).
        The first and last parts are asked for (HEAD with PartNumber); when they do not fit
        one even part size, every part is. None if the source has no parts."""
        if not _is_multipart_etag(source.etag):
            return None
        count = (source.etag or "").rsplit("-", 1)[1]
        if not count.isdigit() or int(count) < 1:
            return None
        parts = int(count)
        # Not pinned with IfMatch (moto compares it with the part's own ETag); the parts
        # themselves are copied with CopySourceIfMatch.
        first = self._part_size(copy_source, 1)
        last = source.size - (parts - 1) * first
        if 0 < last <= first and (parts == 1 or self._part_size(copy_source, parts) == last):
            sizes = [first] * (parts - 1) + [last]
        else:  # an uneven layout
            sizes = [first] + [self._part_size(copy_source, n) for n in range(2, parts + 1)]
        if sum(sizes) != source.size or min(sizes) <= 0:
            return None
        ranges, start = [], 0
        for size in sizes:
            ranges.append((start, start + size - 1))
            start += size
        return ranges

    def _part_size(self, copy_source: dict[str, str], number: int) -> int:
        answer = self.client.head_object(
            Bucket=copy_source["Bucket"], Key=copy_source["Key"], PartNumber=number
        )
        return int(answer["ContentLength"])

    def _refuse_existing(self, url: str) -> None:
        if self.stat(url) is not None:
            raise FileExistsError(url)

    def _verified_size(self, url: str, size: int) -> FileInfo:
        """HEAD a freshly written object; its size must be ``size``. Used only after
        multipart writes, where no ETag can be compared."""
        written = self.stat(url)
        if written is None or written.size != size:
            found = "nothing" if written is None else f"{written.size} bytes"
            raise StorageError(f"{url} should hold {size} bytes after writing, found {found}")
        return FileInfo(url, written.relpath, written.size, written.mtime, None)

    def _copy_error(self, exc: Exception, source: FileInfo, url: str, overwrite: bool) -> Exception:
        if isinstance(exc, (FileExistsError, StorageError)):
            return exc
        if is_precondition_failed(exc):
            # IfNoneMatch (target exists) or CopySourceIfMatch (source changed) failed.
            if not overwrite and self.stat(url) is not None:
                return FileExistsError(url)
            return SourceChanged(f"{source.url} changed since it was listed; not copied")
        if is_not_found(exc):
            return FileNotFoundError(f"{source.url} no longer exists")
        if _is_denied(exc) and self._unreadable(source.url):
            return self._denied(source.url, exc)  # the source, not the target, is refused
        return self._error(f"cannot copy {source.url} to", url, exc)

    def _unreadable(self, url: str) -> bool:
        """Whether reading the object at ``url`` itself is refused (403) to this login."""
        location = urls.parse(url)
        try:
            self.client.head_object(Bucket=location.bucket, Key=location.key)
        except Exception as exc:
            return _is_denied(exc)
        return False

    def _denied(self, url: str, exc: Exception) -> PermissionError:
        """One object this login may list but not read (a per-file refusal)."""
        text = f"{url}: access denied ({error_code(exc)})"
        return PermissionError(self._client.scrub(text) if self._client else text)

    def _delete_batch(
        self, bucket: str, objects: list[dict[str, str]], allowed: tuple[str, ...] = ("NoSuchKey",)
    ) -> list[dict[str, Any]]:
        """One DeleteObjects request; errors whose code is ``allowed`` are returned, any
        other fails the call."""
        try:
            answer = self.client.delete_objects(
                Bucket=bucket, Delete={"Objects": objects, "Quiet": True}
            )
        except Exception as exc:
            raise self._error("cannot delete objects from", f"s3://{bucket}", exc) from None
        errors = answer.get("Errors", [])
        failed = [e for e in errors if e.get("Code") not in allowed]
        if failed:
            sample = ", ".join(f"{e.get('Key')} ({e.get('Code')})" for e in failed[:5])
            raise StorageError(
                f"could not delete {len(failed)} objects from s3://{bucket}: {sample}"
            )
        return errors

    def _error(self, what: str, url: str, exc: Exception) -> StorageError:
        code = error_code(exc)
        if code in ("AccessDenied", "403"):
            text = f"{what} {url}: access denied"
        else:
            text = f"{what} {url}: {type(exc).__name__}: {service_error_text(exc)}"
        return StorageError(self._client.scrub(text) if self._client else text)

    @staticmethod
    def _info(url: str, size: int, etag: str | None, mtime: float | None = None) -> FileInfo:
        return FileInfo(url, posixpath.basename(url), int(size), mtime, etag)
