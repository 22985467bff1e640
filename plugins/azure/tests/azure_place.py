"""An Azurite container as a place of the storage conformance kit: AzurePlace."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from azure_proxy import deny_reads
from azurite import KEY
from lakeroutine.testing.conformance.storage import Place

PLAIN = re.compile(r"[A-Za-z0-9._/-]+")


class AzurePlace(Place):
    """Blobs of a container on Azurite, written and read with azure-storage-blob."""

    label = "azure"
    scheme = "az"
    secrets = (KEY,)

    def __init__(
        self, container: Any, name: str = "lake", via: Callable[..., Any] | None = None
    ) -> None:
        self.container = container  # the tests' Container helper
        self.name = name
        self.via = via  # the ``az_via`` fixture: a proxy lakeroutine then goes through
        self.unreadable: set[str] = set()

    def url(self, folder: str) -> str:
        return f"az://{self.name}/{folder}".rstrip("/") + "/"

    def put(self, folder: str, name: str | bytes, body: bytes) -> bool:
        if isinstance(name, bytes):
            return False  # blob names are text
        key = f"{folder}/{name}" if folder else name
        try:
            self.container.put(key, body)
            if PLAIN.fullmatch(key):
                return True
            # Azure stores a backslash as '/', and Azurite cannot serve some control
            # characters back: such a name is not held literally.
            listed = [b.name for b in self.container.client.list_blobs(name_starts_with=key)]
            blob = self.container.client.get_blob_client(key)
            if key in listed and blob.download_blob().readall() == body:
                return True
        except Exception:
            pass
        with contextlib.suppress(Exception):
            self.container.client.get_blob_client(key).delete_blob()
        return False

    def files(self, folder: str) -> dict[str, bytes]:
        return self.container.objects(f"{folder}/" if folder else "")

    def names(self, folder: str) -> list[str]:
        return self.container.keys(f"{folder}/" if folder else "")

    def everything(self) -> dict[str, bytes]:
        return self.container.objects()

    def aliases(self, folder: str) -> list[str]:
        return [f"az://{self.name}/{folder}"]

    def root_url(self) -> str:
        return f"az://{self.name}/"

    def put_without_hash(self, folder: str, name: str, body: bytes) -> bool:
        """Staged as a block and committed: such a blob has no Content-MD5."""
        blob = self.container.client.get_blob_client(f"{folder}/{name}")
        blob.stage_block("YmxvY2sw", body)
        blob.commit_block_list(["YmxvY2sw"])
        return blob.get_blob_properties().content_settings.content_md5 is None

    def make_unreadable(self, folder: str, name: str) -> bool:
        """Reads of that blob refused 403 by a proxy in front of Azurite (which cannot
        refuse anything); the place itself still reads it directly."""
        if self.via is None:
            return False
        if not self.unreadable:
            self.via(deny=deny_reads(self.unreadable))
        self.unreadable.add(f"{self.name}/{folder}/{name}")
        return True
