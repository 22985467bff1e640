"""Parsing and joining ``az://container/blob`` URLs (the core's bucket URLs; ``bucket``
is the container)."""

from __future__ import annotations

from lakeroutine.storage.bucket_urls import BucketLocation, BucketUrls

AzureLocation = BucketLocation
_URLS = BucketUrls("az", "container")
parse = _URLS.parse
join = _URLS.join
canonical = _URLS.canonical
