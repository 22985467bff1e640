"""A local AWS for the example: moto's server on loopback, in this process, with fake
credentials, plus what moto does not do by itself.

moto accepts Redshift Data API statements but leaves them STARTED forever (it runs no SQL).
``RedshiftDataDriver`` plays the service's part: it moves each statement to FINISHED, so a
routine's Redshift tasks complete. Nothing here is used against real AWS.
"""

from __future__ import annotations

import io
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "local-access-key",
    "AWS_SECRET_ACCESS_KEY": "local-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


_COPY_FROM = re.compile(r"^COPY \S+ FROM '(s3://[^']+)'")


def parquet_rows(url: str) -> int:
    """Rows in the Parquet files under an s3:// prefix (what a COPY of it would load)."""
    import boto3
    import pyarrow.parquet as pq

    bucket, _, prefix = url[len("s3://") :].partition("/")
    s3 = boto3.client("s3")
    rows = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".parquet"):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                rows += pq.read_metadata(io.BytesIO(body)).num_rows
    return rows


class RedshiftDataDriver:
    """Finishes every Redshift Data API statement moto holds, as the service would; a
    Parquet COPY reports the rows its source holds."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="redshift-data", daemon=True)

    def _loop(self) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.redshiftdata.models import redshiftdata_backends

        while not self._stop.wait(self.interval_s):
            for region in ("us-east-1", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")):
                backend = redshiftdata_backends[DEFAULT_ACCOUNT_ID][region]
                for statement in list(backend.statements.values()):
                    if statement.status == "STARTED":
                        copied = _COPY_FROM.match(statement.query_string)
                        if copied and "FORMAT AS PARQUET" in statement.query_string:
                            statement.result_rows = parquet_rows(copied.group(1))
                        statement.status = "FINISHED"

    def __enter__(self) -> RedshiftDataDriver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@contextmanager
def local_aws() -> Iterator[str]:
    """moto on loopback with fake credentials in the environment; yields its URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {key: os.environ.get(key) for key in [*FAKE_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update({**FAKE_ENV, "AWS_ENDPOINT_URL": endpoint})
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
