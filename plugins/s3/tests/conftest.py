"""Fixtures of the S3 plugin's tests: a bucket on moto's loopback server and helpers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the proxy module beside this file

from s3_fault_proxy import FaultProxy

BUCKET = "lake"


class Bucket:
    """A bucket on the emulator, read and written with a plain boto3 client."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def put(self, key: str, body: bytes | str) -> None:
        self.client.put_object(
            Bucket=self.name, Key=key, Body=body.encode() if isinstance(body, str) else body
        )

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        """Every object below ``prefix`` by key relative to it."""
        found = {}
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.name, Prefix=prefix):
            for item in page.get("Contents", ()):
                body = self.client.get_object(Bucket=self.name, Key=item["Key"])["Body"].read()
                found[item["Key"][len(prefix) :]] = body
        return found

    def fill(self, keys: list[str], body: bytes = b"x") -> None:
        """Create many objects fast, straight in the emulator's backend (no HTTP)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
        for key in keys:
            backend.put_object(self.name, key, body)

    def stored(self, prefix: str = "") -> dict[str, bytes]:
        """Like :meth:`objects`, read straight from the emulator's backend (fast)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
        keys = [k for k in list(backend.buckets[self.name].keys.keys()) if k.startswith(prefix)]
        return {k[len(prefix) :]: backend.get_object(self.name, k).value for k in keys}

    def put_multipart(
        self,
        key: str,
        body: bytes,
        part_size: int = 5 * 1024 * 1024,
        sizes: list[int] | None = None,
    ) -> None:
        """An object uploaded in parts: its ETag is not its MD5 (``md5-of-md5s-N``). The
        parts are ``part_size`` bytes, or of the given ``sizes`` (an uneven layout)."""
        if sizes is None:
            sizes = [min(part_size, len(body) - s) for s in range(0, len(body), part_size)]
        assert sum(sizes) == len(body)
        upload = self.client.create_multipart_upload(Bucket=self.name, Key=key)["UploadId"]
        parts = []
        start = 0
        for number, size in enumerate(sizes, 1):
            answer = self.client.upload_part(
                Bucket=self.name,
                Key=key,
                UploadId=upload,
                PartNumber=number,
                Body=body[start : start + size],
            )
            start += size
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self.client.complete_multipart_upload(
            Bucket=self.name, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
        )

    def keys(self, prefix: str = "") -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        return [
            item["Key"][len(prefix) :]
            for page in paginator.paginate(Bucket=self.name, Prefix=prefix)
            for item in page.get("Contents", ())
        ]


@pytest.fixture
def s3_client(moto_endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=moto_endpoint)


@pytest.fixture
def bucket(s3_client: Any) -> Iterator[Bucket]:
    s3_client.create_bucket(Bucket=BUCKET)
    yield Bucket(s3_client, BUCKET)


def staging_routine(**params: Any) -> dict[str, Any]:
    """A routine with one StagingExecutor block running transfer and post_staging."""
    tasks = params.pop("tasks", ["transfer", "post_staging"])
    # moto ignores IfNoneMatch on CopyObject (AWS S3 enforces it): HEAD first, as the README
    # tells users of such servers to.
    params["storage_options"] = {
        "check_absent_before_copy": True,
        **params.get("storage_options", {}),
    }
    return {
        "routine_name": params.pop("routine_name", "s3_test"),
        "state_dir": params.pop("state_dir"),
        "executors": {"StagingExecutor": {"params": params, "tasks": tasks}},
    }


@pytest.fixture
def routine(tmp_path: Any) -> Any:
    """``routine(**params)``: a staging routine whose state lives in the test's tmp folder."""

    def build(**params: Any) -> dict[str, Any]:
        return staging_routine(state_dir=str(tmp_path / "state"), **params)

    return build


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[Callable[..., FaultProxy]]:
    """``proxy(**options)``: a started :class:`FaultProxy` in front of the emulator."""
    started: list[FaultProxy] = []

    def start(**options: Any) -> FaultProxy:
        fault_proxy = FaultProxy(moto_endpoint, **options).__enter__()
        started.append(fault_proxy)
        return fault_proxy

    yield start
    for fault_proxy in started:
        fault_proxy.__exit__(None, None, None)


@pytest.fixture
def storage_via(proxy: Callable[..., FaultProxy]) -> Callable[..., tuple[Any, FaultProxy]]:
    """``storage_via(**options)``: an S3Storage whose requests go through a counting proxy."""
    from lakeroutine_s3.storage import S3Storage

    def build(**options: Any) -> tuple[Any, FaultProxy]:
        counting = proxy()
        options.setdefault("check_absent_before_copy", True)  # moto ignores IfNoneMatch on copy
        return S3Storage(endpoint_url=counting.url, **options), counting

    return build


@pytest.fixture(autouse=True)
def _only_this_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load only this plugin from entry points: other plugins in the checkout are not
    under test here (and may be half-built while others work on them)."""
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "s3")
