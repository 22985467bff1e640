"""Parsing and joining ``gs://bucket/key`` URLs (the core's bucket URLs)."""

from __future__ import annotations

from lakeroutine.storage.bucket_urls import BucketLocation, BucketUrls

GcsLocation = BucketLocation
_URLS = BucketUrls("gs", "bucket")
parse = _URLS.parse
join = _URLS.join
canonical = _URLS.canonical
