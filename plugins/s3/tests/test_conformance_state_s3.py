"""The S3 state store passes the state-store conformance kit against moto's server, on local
folders and on S3 routes, every rerun from "another machine"."""

from __future__ import annotations

from typing import Any

import pytest
from lakeroutine.testing.conformance.state_store import StateStoreConformance

STATE_BUCKET = "kit-state"
LEASE_S = 6  # short, so reruns from "another machine" wait little; renewed every quarter of it,
# which a run starved of CPU on a loaded 2-core machine still manages (4 s did not, at load 50)


class TestS3StateStore(StateStoreConformance):
    store_name = "s3"
    shared = True
    lease = True
    routes = ("local", "s3")
    plugins = ("s3",)

    @pytest.fixture
    def state_url(self, s3_client: Any) -> str:
        s3_client.create_bucket(Bucket=STATE_BUCKET)
        self.client = s3_client
        return f"s3://{STATE_BUCKET}/state/?lease_s={LEASE_S}"

    def state_url_at(self, location: str) -> str | None:
        return location + f"?lease_s={LEASE_S}" if location.startswith("s3://") else None

    def with_lease(self, state_url: str, seconds: int) -> str:
        return state_url.replace(f"lease_s={LEASE_S}", f"lease_s={seconds}")

    def _keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=STATE_BUCKET)
        return [item["Key"] for page in pages for item in page.get("Contents", ())]

    def state_bytes(self, state_url: str) -> bytes:
        return b"".join(
            self.client.get_object(Bucket=STATE_BUCKET, Key=key)["Body"].read()
            for key in self._keys()
        )

    def corrupt(self, state_url: str, routine: str, what: str) -> bool:
        """Garbage over the routine's lock.json, a journal log object or a values object."""
        marker = {"lock": "/lock.json", "journal": "/records/", "values": "/values/"}[what]
        if what == "lock":  # a finished run leaves none: a crashed writer's half object
            key = next(k for k in self._keys() if "/values/" in k).rsplit("/values/", 1)[0]
            keys = [key + marker]
        else:
            keys = [k for k in self._keys() if marker in k]
        assert keys, f"no {what} object to break"
        for key in keys:
            self.client.put_object(Bucket=STATE_BUCKET, Key=key, Body=b"{not json")
        return True
