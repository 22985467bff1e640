"""The S3 location a CTAS writes into: empty before, cleaned after a failed query.

Athena refuses a CTAS into a location that holds objects, and a CTAS that fails part-way
(Hive or Iceberg) leaves what it wrote there, so its retry fails too. The task claims an
empty location in its durable state before the query starts; everything under a claimed
location is then that query's, and is removed once the query has FAILED or been CANCELLED
(also by a rerun after a kill). A location that holds objects and is not claimed is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lakeroutine.errors import TaskRefused

CLAIM = "ctas.location_claimed"


class CtasLocation:
    """One ``s3://bucket/prefix/`` location, listed and emptied with an S3 client."""

    def __init__(self, s3: Any, url: str) -> None:
        self.s3 = s3
        self.url = url
        self.bucket, _, self.prefix = url[len("s3://") :].partition("/")

    def keys(self, limit: int | None = None) -> Iterator[str]:
        """The keys under the location (at most ``limit``)."""
        found = 0
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        ):
            for item in page.get("Contents", []):
                yield item["Key"]
                found += 1
                if limit is not None and found >= limit:
                    return

    def claimed(self, state: Any) -> bool:
        """Whether an earlier attempt of this task claimed the location (in ``state``)."""
        return state.get(CLAIM) == self.url

    def release(self, state: Any) -> None:
        """Give the claim up (the location is empty again): the next attempt checks anew."""
        state.delete(CLAIM)

    def claim(self, state: Any) -> None:
        """Claim the location for this task (in ``state``), refusing it if it holds objects
        that an earlier attempt of this task did not write."""
        if self.claimed(state):
            return
        from botocore.exceptions import ClientError

        try:
            first = next(self.keys(limit=1), None)
        except ClientError as exc:
            from lakeroutine.service_errors import service_error_text

            raise TaskRefused(
                f"cannot list {self.url}: {service_error_text(exc)}", field="args.location"
            ) from None
        if first is not None:
            raise TaskRefused(
                f"{self.url} is not empty (it holds s3://{self.bucket}/{first}): a CTAS "
                "writes only into an empty location; clear it or choose another",
                field="args.location",
            )
        state.set(CLAIM, self.url)

    def clean(self) -> int:
        """Remove every object under the location; how many were removed."""
        removed = 0
        batch: list[str] = []
        for key in self.keys():
            batch.append(key)
            if len(batch) == 1000:  # DeleteObjects takes at most 1,000 keys
                removed += self._delete(batch)
                batch = []
        return removed + (self._delete(batch) if batch else 0)

    def _delete(self, keys: list[str]) -> int:
        answer = self.s3.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )
        errors = answer.get("Errors") or []
        if errors:
            first = errors[0]
            raise OSError(f"could not remove s3://{self.bucket}/{first['Key']}: {first['Message']}")
        return len(keys)
