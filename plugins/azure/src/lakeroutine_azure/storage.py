"""``az://`` locations as a lakeroutine storage (the protocol in ``lakeroutine.storage.base``).

Each guarantee uses Azure's own tools: a blob appears only complete (one Put Blob, or a
committed block list); archive writes are create-only (``If-None-Match: *``, checked at
commit); copies are server-side (Copy Blob) pinned to the listed ETag (source ``If-Match``),
so they hold exactly the bytes listed (size and Content-MD5 taken from the listing, no HEAD;
an unpinned or asynchronous copy is read back and checked); landing blobs are removed only if
still the version staged (``If-Match: etag``, in Blob Batch requests of up to 256).
``version`` is the blob's ETag.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from lakeroutine.service_errors import service_error_text
from lakeroutine.storage.base import (
    ConditionalDeletes,
    FileInfo,
    SourceChanged,
    StorageError,
    is_temporary_name,
)

from lakeroutine_azure import reading, urls
from lakeroutine_azure.client import AzureClient, location_error, status_of
from lakeroutine_azure.settings import AzureSettings

log = logging.getLogger("lakeroutine.azure")
MAX_NAME_CHARS = 1024  # Azure's limit on a blob name
MAX_SEGMENTS = 254  # Azure's limit on the path segments of a blob name
BATCH = 256  # Azure's limit of subrequests per Blob Batch
COPY_POLL = 0.2


def unquoted(etag: str | None) -> str | None:
    """An ETag as lakeroutine keeps it (listings and properties differ in quotes)."""
    return etag.strip('"') if etag else None


def quoted(etag: str) -> str:
    """An ETag as conditions send it."""
    return f'"{etag}"'


def md5_hex(content_md5: Any) -> str | None:
    """A blob's Content-MD5 (bytes, as the SDK gives it) in hex, or None."""
    return bytes(content_md5).hex() if content_md5 else None


class AzureStorage(ConditionalDeletes):
    """Blobs below ``az://container/prefix/`` locations."""

    scheme = "az"

    def __init__(self, **options: Any) -> None:
        self.settings = AzureSettings.from_options(options)
        self._client: AzureClient | None = None
        self._lock = threading.Lock()

    @property
    def azure(self) -> AzureClient:
        """The client, built on first use (building a routine imports no Azure library)."""
        with self._lock:
            if self._client is None:
                self._client = AzureClient(self.settings)
            return self._client

    # -- locations ------------------------------------------------------------------------

    def join(self, base: str, relpath: str) -> str:
        """The URL of ``relpath`` below the location ``base``."""
        return urls.join(base, relpath)

    def canonical(self, url: str) -> str:
        """The location as one comparable text ending in ``/`` (no network)."""
        return urls.canonical(url)

    def service_name(self, url: str) -> str | None:
        """The storage account, which ``az://`` URLs do not name (for lineage's dataset names,
        :mod:`lakeroutine.lineage`); None if no account is configured."""
        try:
            return str(self.azure.service.account_name)
        except Exception:
            return None

    def name_problem(self, base: str, relpath: str) -> str | None:
        """Why this storage cannot hold ``relpath`` below ``base``, else None."""
        key = urls.parse(base).prefix + relpath
        if len(key) > MAX_NAME_CHARS:
            return f"the blob name would be {len(key)} characters; Azure allows {MAX_NAME_CHARS}"
        if key.count("/") + 1 > MAX_SEGMENTS:
            return f"the blob name would have more than {MAX_SEGMENTS} path segments"
        if key.endswith("."):
            return "the blob name ends with '.', which Azure advises against (tools drop it)"
        return None

    def check_location(self, base: str, *, write: bool) -> None:
        """The container exists and the credential may use it (reads: list the prefix)."""
        location = urls.parse(base)
        try:
            container = self.azure.container(location.bucket)
            container.get_container_properties(timeout=30)
            if not write:
                pages = container.list_blobs(name_starts_with=location.prefix, results_per_page=1)
                next(iter(pages.by_page()), None)
        except Exception as exc:
            raise location_error(exc, location.bucket, self._client) from None

    def list_files(self, base: str) -> Iterator[FileInfo]:
        """Every blob below ``base`` in ascending name order (as Azure lists), one page
        (``list_page_size`` names) in memory at a time: each page is let go before the next
        is asked for."""
        location = urls.parse(base)
        token: str | None = None
        while True:
            infos, token = self._list_page(location, token)
            # The client library's page objects refer to each other: only the cyclic
            # collector frees them. Collect now (a few ms a page), or every page
            # listed stays in memory until the collector gets to it.
            gc.collect()
            infos.reverse()
            while infos:
                yield infos.pop()  # each entry let go once listed
            if not token:
                return

    def _list_page(
        self, location: urls.AzureLocation, token: str | None
    ) -> tuple[list[FileInfo], str | None]:
        """One page of the listing as FileInfo, and the next page's continuation token."""
        prefix = location.prefix
        container = self.azure.container(location.bucket)
        pages = container.list_blobs(
            name_starts_with=prefix, results_per_page=self.settings.list_page_size
        ).by_page(continuation_token=token)
        page = next(pages, None)
        infos = [
            self._info(location.url(blob.name), blob, blob.name[len(prefix) :])
            for blob in page or ()
            if not blob.name.endswith("/")  # folder placeholders
            and not is_temporary_name(blob.name.rsplit("/", 1)[-1])  # unfinished writes
        ]
        return infos, pages.continuation_token

    def stat(self, url: str) -> FileInfo | None:
        """The file at ``url``, or None if there is none."""
        try:
            props = self._blob(url).get_blob_properties(timeout=self.settings.timeout)
        except Exception as exc:
            if status_of(exc) == 404:
                return None
            raise self._error("cannot read", url, exc) from None
        return self._info(url, props)

    # -- moving bytes ---------------------------------------------------------------------

    def download(self, url: str, local_path: Path) -> None:
        """Ranged, concurrent GETs pinned to the first answer's ETag (the SDK's), then
        checked against the blob's Content-MD5 where it has one."""
        try:
            stream = self._blob(url).download_blob(
                max_concurrency=self.settings.transfer_concurrency, timeout=self.settings.timeout
            )
            with open(local_path, "wb") as handle:
                stream.readinto(handle)
        except Exception as exc:
            if status_of(exc) == 404:
                raise FileNotFoundError(url) from None
            if status_of(exc) == 412:  # ResourceModifiedError: replaced while downloaded
                raise SourceChanged(f"{url} was replaced while it was downloaded") from None
            if status_of(exc) == 403:  # this blob only: refused, the others staged
                raise self._denied(url, exc) from None
            raise self._error("cannot download", url, exc) from None
        props = stream.properties
        size = os.path.getsize(local_path)
        if size != props.size:
            raise SourceChanged(f"{url}: downloaded {size} bytes, the blob has {props.size}")
        expected = md5_hex(props.content_settings.content_md5)
        if expected and reading.file_md5(Path(local_path)) != expected:
            raise SourceChanged(f"{url}: downloaded bytes do not match the blob's Content-MD5")

    def upload(
        self,
        local_path: Path,
        url: str,
        *,
        overwrite: bool = True,
        expected_size: int | None = None,
    ) -> FileInfo:
        """One Put Blob, or blocks staged concurrently then committed; the blob's
        Content-MD5 is the MD5 of the bytes read, each request is MD5-checked by the
        service. ``overwrite=False``: ``If-None-Match: *`` (at commit for block lists); a
        blob already holding exactly these bytes counts as written."""
        from azure.storage.blob import ContentSettings

        local_path = Path(local_path)
        size = local_path.stat().st_size if expected_size is None else expected_size
        blob = self._blob(url)
        try:
            if size <= self.settings.max_single_put_size:
                data = reading.read_exactly(local_path, expected_size, url)
                md5 = hashlib.md5(data, usedforsecurity=False).digest()
                answer = blob.upload_blob(
                    data,
                    overwrite=overwrite,
                    content_settings=ContentSettings(content_md5=bytearray(md5)),
                    validate_content=True,
                    timeout=self.settings.timeout,
                )
            else:
                md5 = bytes.fromhex(reading.file_md5(local_path))
                with open(local_path, "rb") as handle:
                    reader = reading.ExactReader(handle, size, url)
                    answer = blob.upload_blob(
                        reader,
                        length=size,
                        overwrite=overwrite,
                        content_settings=ContentSettings(content_md5=bytearray(md5)),
                        validate_content=True,
                        max_concurrency=self.settings.transfer_concurrency,
                        timeout=self.settings.timeout,
                    )
                if reader.md5.digest() != md5:  # changed between hashing and sending
                    self._remove_version(url, answer.get("etag") or "")
                    raise SourceChanged(f"{url}: the source changed while it was sent; removed")
        except Exception as exc:
            if not overwrite and status_of(exc) in (409, 412):
                existing = self.stat(url)
                if existing is not None and existing.etag == reading.file_md5(local_path):
                    return existing
                raise FileExistsError(url) from None
            if isinstance(exc, (StorageError, OSError)):
                raise
            raise self._error("cannot upload to", url, exc) from None
        last_modified = answer.get("last_modified")
        return FileInfo(
            url,
            url.rsplit("/", 1)[-1],
            size,
            last_modified.timestamp() if last_modified else None,
            md5.hex(),
            unquoted(answer.get("etag")),
        )

    def copy(self, source: FileInfo, url: str, *, overwrite: bool = True) -> FileInfo:
        """Server-side Copy Blob of exactly the listed version (source ``If-Match``): one
        request when it finishes at once; otherwise read back and checked against the
        source's Content-MD5 and size."""
        from azure.core import MatchConditions

        target = self._blob(url)
        conditions: dict[str, Any] = {}
        if source.version:
            conditions["source_etag"] = quoted(source.version)
            conditions["source_match_condition"] = MatchConditions.IfNotModified
        if not overwrite:
            conditions["match_condition"] = MatchConditions.IfMissing
        try:
            answer = target.start_copy_from_url(
                self._blob(source.url).url, timeout=self.settings.timeout, **conditions
            )
            status = answer.get("copy_status")
            if status == "success" and source.version:
                return self._copied(url, source, answer)
            while status == "pending":
                time.sleep(COPY_POLL)
                status = target.get_blob_properties().copy.status
            if status != "success":
                raise StorageError(f"copy of {source.url} to {url} ended {status}")
        except Exception as exc:
            if not overwrite and status_of(exc) in (409, 412):
                existing = self._copy_of(url, source)
                if existing is not None:
                    return existing  # this very copy (a lost reply, a killed run)
                if self.stat(url) is not None:
                    raise FileExistsError(url) from None
            if status_of(exc) == 412:
                raise SourceChanged(
                    f"{source.url} changed since it was listed; not copied"
                ) from None
            if status_of(exc) == 404:
                raise FileNotFoundError(f"{source.url} no longer exists") from None
            if status_of(exc) == 403 and self._unreadable(source.url):
                raise self._denied(source.url, exc) from None  # the source, not the target
            raise self._error(f"cannot copy {source.url} to", url, exc) from None
        written = self.stat(url)
        if written is None or written.size != source.size or written.etag != source.etag:
            if written is not None:
                self._remove_version(url, quoted(written.version or ""))
            raise SourceChanged(
                f"copy of {source.url} to {url} does not match its source (listed "
                f"{source.size} bytes, MD5 {source.etag}); removed"
            )
        return written

    @staticmethod
    def _copied(url: str, source: FileInfo, answer: dict[str, Any]) -> FileInfo:
        """The blob a finished Copy Blob pinned to the listed ETag wrote, from its answer:
        exactly that version's bytes, so the listing's size and Content-MD5 (which Azure
        copies, never recomputes: a HEAD would only read them back) with the new ETag."""
        modified = answer.get("last_modified")
        return FileInfo(
            url,
            url.rsplit("/", 1)[-1],
            source.size,
            modified.timestamp() if modified else None,
            source.etag,
            unquoted(answer.get("etag")),
        )

    def _copy_of(self, url: str, source: FileInfo) -> FileInfo | None:
        """The blob at ``url`` if it is a copy of exactly the listed version of ``source``,
        proven with or without a Content-MD5: the same MD5 where the source has one, else
        a finished Copy Blob from the source's name made strictly after that version was
        written (an earlier archived file of that name was copied from an earlier version,
        which was gone before this one was written; a copy within the same second is not
        taken as proof: at worst an extra copy, never a lost one)."""
        from urllib.parse import unquote, urlsplit

        try:
            props = self._blob(url).get_blob_properties(timeout=self.settings.timeout)
        except Exception as exc:
            if status_of(exc) == 404:
                return None
            raise self._error("cannot read", url, exc) from None
        existing = self._info(url, props)
        if existing.size != source.size:
            return None
        if source.etag or existing.etag:
            return existing if existing.etag == source.etag else None
        copy = getattr(props, "copy", None)
        created = getattr(props, "creation_time", None)
        copied_from = unquote(urlsplit(getattr(copy, "source", None) or "").path)
        source_path = unquote(urlsplit(self._blob(source.url).url).path)
        if (
            copy is None
            or copy.status != "success"
            or copied_from != source_path
            or created is None
            or source.mtime is None
            or created.timestamp() <= source.mtime
        ):
            return None
        return existing

    def delete_many(self, urls_: Iterable[str]) -> None:
        """Blob Batch deletes of up to 256 blobs; missing blobs are fine."""
        self._delete_all((url, None) for url in urls_)

    def make_durable(self, urls_: Iterable[str]) -> None:
        """Nothing to do: a completed Azure write is durable."""

    # -- removal of exactly the version staged --------------------------------------------

    def remove_claimed(self, files: Sequence[FileInfo]) -> list[FileInfo]:
        """Delete each blob only if still the version staged (``If-Match: etag``, batched);
        return those left because they were replaced since."""
        outcome = self._delete_all((info.url, info) for info in files)
        return [info for info in files if outcome.get(info.url) == "changed"]

    # -- helpers --------------------------------------------------------------------------

    def _unreadable(self, url: str) -> bool:
        """Whether reading the blob at ``url`` is refused (403) to this login."""
        try:
            self._blob(url).get_blob_properties(timeout=self.settings.timeout)
        except Exception as exc:
            return status_of(exc) == 403
        return False

    def _denied(self, url: str, exc: Exception) -> PermissionError:
        """One blob this login may list but not read (a per-file refusal)."""
        text = f"{url}: access denied ({service_error_text(exc)})"
        return PermissionError(self.azure.scrub(text))

    def _blob(self, url: str) -> Any:
        location = urls.parse(url)
        return self.azure.container(location.bucket).get_blob_client(location.key)

    def _delete_all(self, items: Iterable[tuple[str, FileInfo | None]]) -> dict[str, str]:
        """Delete blobs in batches per container; ``url -> deleted | missing | changed``."""
        outcome: dict[str, str] = {}
        pending: dict[str, list[tuple[str, FileInfo | None]]] = {}
        for url, info in items:
            batch = pending.setdefault(urls.parse(url).bucket, [])
            batch.append((url, info))
            if len(batch) == BATCH:
                outcome.update(self._delete_batch(urls.parse(url).bucket, batch))
                batch.clear()
        for container, batch in pending.items():
            if batch:
                outcome.update(self._delete_batch(container, batch))
        return outcome

    def _delete_batch(
        self, container: str, batch: list[tuple[str, FileInfo | None]]
    ) -> dict[str, str]:
        from azure.core import MatchConditions

        requests: list[Any] = []
        for url, info in batch:
            name = urls.parse(url).key
            if info is not None and info.version:
                requests.append(
                    {
                        "name": name,
                        "etag": info.version,
                        "match_condition": MatchConditions.IfNotModified,
                    }
                )
            else:
                requests.append(name)
        client = self.azure.container(container)
        try:
            answers = list(client.delete_blobs(*requests, raise_on_any_failure=False))
        except Exception as exc:
            raise self._error("cannot delete blobs from", f"az://{container}", exc) from None
        outcome = {}
        for (url, _), answer in zip(batch, answers, strict=True):
            status = answer.status_code
            if status in (200, 202):
                outcome[url] = "deleted"
            elif status == 404:
                outcome[url] = "missing"
            elif status == 412:  # replaced, or gone (Azurite answers 412 for a missing blob)
                outcome[url] = "changed" if self.stat(url) is not None else "missing"
            else:
                raise StorageError(f"cannot delete {url}: HTTP {status}")
        return outcome

    def _remove_version(self, url: str, etag: str) -> None:
        """Remove a blob this storage just wrote, only if still that version (``etag``)."""
        from azure.core import MatchConditions

        try:
            self._blob(url).delete_blob(etag=etag, match_condition=MatchConditions.IfNotModified)
        except Exception as exc:
            log.warning("could not remove unverified %s: %s", url, service_error_text(exc))

    def _error(self, what: str, url: str, exc: Exception) -> StorageError:
        if isinstance(exc, StorageError):
            return exc
        text = f"{what} {url}: {type(exc).__name__}: {service_error_text(exc)}"
        return StorageError(self._client.scrub(text) if self._client else text)

    @staticmethod
    def _info(url: str, props: Any, relpath: str | None = None) -> FileInfo:
        modified = getattr(props, "last_modified", None)
        return FileInfo(
            url,
            relpath if relpath is not None else url.rsplit("/", 1)[-1],
            int(props.size or 0),
            modified.timestamp() if modified else None,
            md5_hex(props.content_settings.content_md5),
            unquoted(props.etag),
        )
