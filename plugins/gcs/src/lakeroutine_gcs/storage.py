"""``gs://`` locations as a lakeroutine storage (the protocol in ``lakeroutine.storage.base``).

Each guarantee uses GCS's own tools: objects appear only complete (a multipart upload, or
the last chunk of a resumable one); archive writes are create-only (``ifGenerationMatch=0``);
copies are server-side rewrites pinned to the listed generation
(``ifSourceGenerationMatch``) and checked against the source's MD5 (CRC32C for composite
objects); landing objects are removed only if still the generation staged
(``ifGenerationMatch=N``). ``version`` is the object's generation.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lakeroutine.service_errors import service_error_text
from lakeroutine.storage.base import (
    ConditionalDeletes,
    FileInfo,
    SourceChanged,
    StorageError,
    is_temporary_name,
)

from lakeroutine_gcs import batch, transfers, urls
from lakeroutine_gcs.client import (
    GcsClient,
    is_not_found,
    is_precondition_failed,
    location_error,
    retry,
    status_of,
)
from lakeroutine_gcs.settings import GcsSettings

log = logging.getLogger("lakeroutine.gcs")
MAX_NAME_BYTES = 1024  # GCS's limit on an object name, in UTF-8 bytes
DELETE_WORKERS = 4  # batches in flight at once
LIST_FIELDS = "items(name,size,updated,generation,md5Hash,crc32c),nextPageToken"


class GcsStorage(ConditionalDeletes):
    """Objects below ``gs://bucket/prefix/`` locations."""

    scheme = "gs"

    def __init__(self, **options: Any) -> None:
        self.settings = GcsSettings.from_options(options)
        self._client: GcsClient | None = None
        self._lock = threading.Lock()
        self._retry_policy: Any = None

    @property
    def gcs(self) -> GcsClient:
        """The client, built on first use (building a routine imports no Google library)."""
        with self._lock:
            if self._client is None:
                self._client = GcsClient(self.settings)
            return self._client

    @property
    def _retry(self) -> Any:
        """The retry policy of every call (google-api-core's, imported on first use)."""
        if self._retry_policy is None:
            self._retry_policy = retry(self.settings)
        return self._retry_policy

    # -- locations ------------------------------------------------------------------------

    def join(self, base: str, relpath: str) -> str:
        """The URL of ``relpath`` below the location ``base``."""
        return urls.join(base, relpath)

    def canonical(self, url: str) -> str:
        """The location as one comparable text ending in ``/`` (no network)."""
        return urls.canonical(url)

    def name_problem(self, base: str, relpath: str) -> str | None:
        """Why this storage cannot hold ``relpath`` below ``base``, else None."""
        key = urls.parse(base).prefix + relpath
        size = len(key.encode("utf-8", "surrogateescape"))
        if size > MAX_NAME_BYTES:
            return f"the object name would be {size} bytes; GCS allows {MAX_NAME_BYTES}"
        if key.startswith(".well-known/acme-challenge/"):
            return "GCS refuses object names starting with .well-known/acme-challenge/"
        return None

    def check_location(self, base: str, *, write: bool) -> None:
        """The bucket exists and the credentials may use it (reads: list the prefix too)."""
        location = urls.parse(base)
        try:
            client = self.gcs.client
            bucket = client.get_bucket(location.bucket, retry=self._retry, timeout=30)
            if not write:
                pages = client.list_blobs(
                    bucket, prefix=location.prefix, max_results=1, retry=self._retry, timeout=30
                )
                list(pages)
        except Exception as exc:
            raise location_error(exc, location.bucket) from None

    def list_files(self, base: str) -> Iterator[FileInfo]:
        """Every object below ``base`` in ascending name order (as GCS lists), one page
        (``list_page_size`` names) in memory at a time: each page is let go before the next
        is asked for."""
        location = urls.parse(base)
        token: str | None = None
        while True:
            infos, token = self._list_page(location, token)
            infos.reverse()
            while infos:
                yield infos.pop()  # each entry let go once listed
            if not token:
                return

    def _list_page(
        self, location: urls.GcsLocation, token: str | None
    ) -> tuple[list[FileInfo], str | None]:
        """One page of the listing as FileInfo, and the next page's token: the JSON answer
        read directly (the library's page iterator and blob objects refer to each other,
        so only the cyclic collector would free them, and they cost CPU per object)."""
        prefix = location.prefix
        query: dict[str, Any] = {
            "prefix": prefix,
            "maxResults": self.settings.list_page_size,
            "fields": LIST_FIELDS,
            "projection": "noAcl",
        }
        if token:
            query["pageToken"] = token
        page = self.gcs.client._get_resource(
            f"/b/{quote(location.bucket, safe='')}/o",
            query_params=query,
            retry=self._retry,
            timeout=self.settings.timeout,
        )
        infos = [
            listed_info(location.url(item["name"]), item, item["name"][len(prefix) :])
            for item in page.get("items", ())
            if not item["name"].endswith("/")  # folder placeholders
            and not is_temporary_name(item["name"].rsplit("/", 1)[-1])  # unfinished writes
        ]
        return infos, page.get("nextPageToken")

    def stat(self, url: str) -> FileInfo | None:
        """The file at ``url``, or None if there is none."""
        location = urls.parse(url)
        try:
            blob = self._bucket(location.bucket).get_blob(
                location.key, retry=self._retry, timeout=self.settings.timeout
            )
        except Exception as exc:
            raise self._error("cannot read", url, exc) from None
        return None if blob is None else self._info(url, blob)

    # -- moving bytes ---------------------------------------------------------------------

    def download(self, url: str, local_path: Path) -> None:
        """The object's current generation, checked against its MD5 (or CRC32C)."""
        location = urls.parse(url)
        settings = self.settings
        try:
            blob = self._bucket(location.bucket).get_blob(
                location.key, retry=self._retry, timeout=settings.timeout
            )
            if blob is None:
                raise FileNotFoundError(url)
            pinned = self._bucket(location.bucket).blob(location.key, generation=blob.generation)
            if blob.size > settings.download_chunk_size:
                transfers.download_ranges(
                    pinned,
                    Path(local_path),
                    blob.size,
                    settings.download_chunk_size,
                    settings.transfer_concurrency,
                    self._retry,
                    settings.timeout,
                )
            else:
                pinned.download_to_filename(
                    str(local_path), checksum=None, retry=self._retry, timeout=settings.timeout
                )
        except (OSError, StorageError):
            raise
        except Exception as exc:
            if status_of(exc) == 403:  # this object only: refused, the others staged
                raise self._denied(url, exc) from None
            raise self._error("cannot download", url, exc) from None
        self._check_downloaded(url, blob, Path(local_path))

    def upload(
        self,
        local_path: Path,
        url: str,
        *,
        overwrite: bool = True,
        expected_size: int | None = None,
    ) -> FileInfo:
        """One multipart upload, or a resumable one above ``multipart_threshold``; checked
        against the MD5 of the bytes read. ``overwrite=False``: create-only
        (``ifGenerationMatch=0``); an object already holding exactly these bytes (a lost
        reply's retry, a killed run's write) counts as written."""
        location = urls.parse(url)
        local_path = Path(local_path)
        size = local_path.stat().st_size if expected_size is None else expected_size
        blob = self._bucket(location.bucket).blob(location.key)
        condition = {} if overwrite else {"if_generation_match": 0}
        try:
            if size <= self.settings.multipart_threshold:
                data = transfers.read_exactly(local_path, expected_size, url)
                md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
                blob.upload_from_string(
                    data,
                    checksum="md5",
                    retry=self._retry,
                    timeout=self.settings.timeout,
                    **condition,
                )
            else:
                blob.chunk_size = self.settings.chunk_size
                with open(local_path, "rb") as handle:
                    reader = transfers.CountingReader(handle, size, url)
                    blob.upload_from_file(
                        reader,
                        size=size,
                        checksum="md5",
                        retry=self._retry,
                        timeout=self.settings.timeout,
                        **condition,
                    )
                md5 = reader.md5.hexdigest()
        except Exception as exc:
            if not overwrite and is_precondition_failed(exc):
                existing = self.stat(url)
                if existing is not None and existing.etag == transfers.file_token(local_path):
                    return existing
                raise FileExistsError(url) from None
            if type(exc).__name__ == "DataCorruption":
                # Completed, but not with the bytes sent: take that object down again.
                stored = self._bucket(location.bucket).get_blob(location.key, retry=self._retry)
                if stored is not None and transfers.content_token(stored) != transfers.file_token(
                    local_path
                ):
                    self._remove_version(stored)
                raise StorageError(
                    f"{url}: GCS stored other bytes than were sent; removed, not verified"
                ) from None
            if isinstance(exc, (StorageError, OSError)):
                raise
            raise self._error("cannot upload to", url, exc) from None
        written = self._info(url, blob)
        if written.etag != md5 or written.size != size:
            self._remove_version(blob)
            raise StorageError(
                f"{url}: GCS stored other bytes than were sent (MD5 {written.etag}, expected "
                f"{md5}); removed, not verified"
            )
        return written

    def copy(self, source: FileInfo, url: str, *, overwrite: bool = True) -> FileInfo:
        """Server-side rewrite of exactly the listed generation of ``source``
        (``ifSourceGenerationMatch``), checked against the source's MD5 / CRC32C."""
        src, dst = urls.parse(source.url), urls.parse(url)
        source_blob = self._bucket(src.bucket).blob(src.key)
        target = self._bucket(dst.bucket).blob(dst.key)
        condition: dict[str, Any] = {} if overwrite else {"if_generation_match": 0}
        if source.version:
            condition["if_source_generation_match"] = int(source.version)
        try:
            token = None
            while True:
                token, _, _ = target.rewrite(
                    source_blob,
                    token=token,
                    retry=self._retry,
                    timeout=self.settings.timeout,
                    **condition,
                )
                if token is None:
                    break
        except Exception as exc:
            if not overwrite and is_precondition_failed(exc):
                existing = self.stat(url)
                if existing is not None:
                    if source.etag and existing.etag == source.etag:
                        return existing  # this very copy (a lost reply, a killed run)
                    raise FileExistsError(url) from None
            raise self._copy_error(exc, source, url) from None
        written = self._info(url, target)
        if written.size != source.size or (source.etag and written.etag != source.etag):
            self._remove_version(target)  # the source was rewritten in between
            raise SourceChanged(
                f"copy of {source.url} to {url} does not match its source (size "
                f"{written.size}, hash {written.etag}; listed {source.size}, {source.etag})"
            )
        return written

    def delete_many(self, urls_: Iterable[str]) -> None:
        """Deletes, many at once; missing objects are fine."""
        self._delete_all((url, None) for url in urls_)

    def make_durable(self, urls_: Iterable[str]) -> None:
        """Nothing to do: a completed GCS write is durable."""

    # -- removal of exactly the version staged --------------------------------------------

    def remove_claimed(self, files: Sequence[FileInfo]) -> list[FileInfo]:
        """Delete each object only if still the generation staged (``ifGenerationMatch``);
        return those left because they were replaced since."""
        outcome = self._delete_all((info.url, info) for info in files)
        return [info for info in files if outcome.get(info.url) == "changed"]

    # -- helpers --------------------------------------------------------------------------

    def _bucket(self, name: str) -> Any:
        return self.gcs.bucket(name)

    @staticmethod
    def _object_path(bucket: str, key: str) -> str:
        """The JSON API path of an object (as the library builds it)."""
        return f"/b/{quote(bucket, safe='')}/o/{quote(key, safe='')}"

    def _delete_all(self, items: Iterable[tuple[str, FileInfo | None]]) -> dict[str, str]:
        """Delete objects (pinned to a generation where one is given) in batches of up to
        100, ``DELETE_WORKERS`` batches at once (a few objects make smaller batches: a server
        works through one batch's calls in turn); returns ``url -> "deleted" | "missing" |
        "changed"``."""
        listed = list(items)
        size = min(batch.BATCH, -(-len(listed) // DELETE_WORKERS))
        chunks = chunked(listed, max(size, 1))
        outcome: dict[str, str] = {}
        with cf.ThreadPoolExecutor(DELETE_WORKERS, "lakeroutine-gcs-delete") as pool:
            for answers in pool.map(self._delete_chunk, chunks):
                outcome.update(answers)
        return outcome

    def _delete_chunk(self, items: list[tuple[str, FileInfo | None]]) -> list[tuple[str, str]]:
        """One batch of deletes; those it could not settle (a throttled or failed call, or
        the whole batch failing) are sent one by one, with retries."""
        calls = [self._delete_call(url, info) for url, info in items]
        client = self.gcs.client
        try:
            answers = batch.delete_batch(
                client._http, client._connection.API_BASE_URL, calls, self.settings.timeout
            )
        except batch.BatchFailed:
            answers = [0] * len(items)
        settled = {200: "deleted", 204: "deleted", 404: "missing"}
        results = []
        for (url, info), (_, query), status in zip(items, calls, answers, strict=True):
            if status in settled:
                results.append((url, settled[status]))
            elif status == 412 and query:
                results.append((url, "changed"))
            else:
                results.append(self._delete_one(url, info))
        return results

    def _delete_call(self, url: str, info: FileInfo | None) -> tuple[str, dict[str, Any]]:
        """The JSON API path and query of deleting ``url`` (pinned to ``info``'s version)."""
        location = urls.parse(url)
        query = {"ifGenerationMatch": int(info.version)} if info and info.version else {}
        return self._object_path(location.bucket, location.key), query

    def _delete_one(self, url: str, info: FileInfo | None) -> tuple[str, str]:
        """One DELETE (without the library's blob and bucket objects), retried."""
        path, query = self._delete_call(url, info)
        try:
            self.gcs.client._delete_resource(
                path, query_params=query, retry=self._retry, timeout=self.settings.timeout
            )
        except Exception as exc:
            if is_not_found(exc):
                return url, "missing"
            if is_precondition_failed(exc) and query:
                return url, "changed"
            raise self._error("cannot delete", url, exc) from None
        return url, "deleted"

    def _remove_version(self, blob: Any) -> None:
        """Remove a just-written object that failed verification (only that generation)."""
        try:
            blob.delete(if_generation_match=blob.generation, retry=self._retry)
        except Exception as exc:
            log.warning(
                "could not remove unverified gs://%s/%s: %s",
                blob.bucket.name,
                blob.name,
                service_error_text(exc),
            )

    def _check_downloaded(self, url: str, blob: Any, path: Path) -> None:
        expected = transfers.content_token(blob)
        size = os.path.getsize(path)
        if size != blob.size:
            raise OSError(f"{url}: downloaded {size} bytes, the object has {blob.size}")
        if expected and not expected.startswith("crc32c:"):
            got = transfers.file_token(path)
        elif expected:
            got = "crc32c:" + transfers.file_crc32c(path)
        else:
            return
        if got != expected:
            raise OSError(f"{url}: downloaded bytes do not match the object's hash")

    def _copy_error(self, exc: Exception, source: FileInfo, url: str) -> Exception:
        if is_precondition_failed(exc):
            return SourceChanged(f"{source.url} changed since it was listed; not copied")
        if is_not_found(exc):
            return FileNotFoundError(f"{source.url} no longer exists")
        if status_of(exc) == 403 and self._unreadable(source.url):
            return self._denied(source.url, exc)  # the source, not the target, is refused
        return self._error(f"cannot copy {source.url} to", url, exc)

    def _unreadable(self, url: str) -> bool:
        """Whether reading the object at ``url`` is refused (403) to this login."""
        location = urls.parse(url)
        try:
            self._bucket(location.bucket).get_blob(location.key, timeout=self.settings.timeout)
        except Exception as exc:
            return status_of(exc) == 403
        return False

    @staticmethod
    def _denied(url: str, exc: Exception) -> PermissionError:
        """One object this login may list but not read (a per-file refusal)."""
        return PermissionError(f"{url}: access denied ({service_error_text(exc)})")

    def _error(self, what: str, url: str, exc: Exception) -> StorageError:
        if isinstance(exc, StorageError):
            return exc
        return StorageError(f"{what} {url}: {type(exc).__name__}: {service_error_text(exc)}")

    @staticmethod
    def _info(url: str, blob: Any, relpath: str | None = None) -> FileInfo:
        updated = getattr(blob, "updated", None)
        return FileInfo(
            url,
            relpath if relpath is not None else url.rsplit("/", 1)[-1],
            int(blob.size or 0),
            updated.timestamp() if updated else None,
            transfers.content_token(blob),
            str(blob.generation) if blob.generation else None,
        )


def listed_info(url: str, item: dict[str, Any], relpath: str) -> FileInfo:
    """A FileInfo from one item of a JSON listing (the fields of ``LIST_FIELDS``)."""
    updated = item.get("updated")
    md5 = transfers.b64_to_hex(item.get("md5Hash"))
    crc = transfers.b64_to_hex(item.get("crc32c"))
    generation = item.get("generation")
    return FileInfo(
        url,
        relpath,
        int(item.get("size") or 0),
        rfc3339_seconds(updated) if updated else None,
        md5 or (f"crc32c:{crc}" if crc else None),
        str(generation) if generation else None,
    )


def rfc3339_seconds(text: str) -> float:
    """Seconds since the epoch of a GCS time (``2026-12-07T12:30:35.123Z``): the standard
    parser where it can (Python 3.10 takes 3 or 6 digits and no ``Z``), else the library's."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        from google.cloud._helpers import _rfc3339_nanos_to_datetime

        return float(_rfc3339_nanos_to_datetime(text).timestamp())


def chunked(items: list[Any], size: int) -> list[list[Any]]:
    """``items`` in consecutive lists of at most ``size``."""
    return [items[start : start + size] for start in range(0, len(items), size)]
