"""A local AWS for the example: moto's server on loopback, in this process, with fake
credentials, plus what moto does not do by itself.

moto accepts Redshift Data API statements but leaves them STARTED forever (it runs no SQL)
and has no BatchExecuteStatement. ``redshift_data()`` plays the service's part with
lakeroutine-redshift's emulator, so a routine's Redshift tasks complete. Nothing here is
used against real AWS.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lakeroutine_redshift.emulator import DataApiEmulator

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "local-access-key",
    "AWS_SECRET_ACCESS_KEY": "local-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
_PERSONAL = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN")


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


def redshift_data() -> DataApiEmulator:
    """moto's Redshift Data API finishing statements as the service would (see
    ``lakeroutine_redshift.emulator``); a Parquet COPY reports the rows of its source."""

    def rule(statement: Any) -> tuple[str, int | None]:
        copied = _COPY_FROM.match(statement.query_string)
        if copied and "FORMAT AS PARQUET" in statement.query_string:
            return ("FINISHED", parquet_rows(copied.group(1)))
        return ("FINISHED", None)

    return DataApiEmulator(rule)


@contextmanager
def local_aws() -> Iterator[str]:
    """moto on loopback with fake credentials in the environment (the user's AWS profile
    and config files set aside); yields its URL."""
    from lakeroutine.testing.moto_support import route_rest_paths
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    route_rest_paths("athena")  # moto routes Athena's rest-json calls only when told its paths
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {key: os.environ.get(key) for key in [*FAKE_ENV, *_PERSONAL, "AWS_ENDPOINT_URL"]}
    for key in _PERSONAL:  # the user's own profiles and config never reach the emulator
        os.environ.pop(key, None)
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
