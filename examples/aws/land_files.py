"""Land a day of sales CSV files in ``s3://BUCKET/landing/sales/``, as an upstream system
would, after making sure the bucket exists and the Glue job's script is uploaded.

Uses the ordinary AWS environment (credentials, ``AWS_DEFAULT_REGION``, and
``AWS_ENDPOINT_URL`` for a local emulator). ``python land_files.py [BUCKET] [FILES]``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import random
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GLUE_SCRIPT = HERE / "glue" / "sales_summary.py"
JOBS = ["engineer", "analyst", "manager", "designer"]
NAMES = ["ana", "bruno", "carla", "davi", "elisa", "fabio", "gabi", "hugo"]

log = logging.getLogger("land_files")


def sales_csv(rng: random.Random, first_id: int, rows: int) -> bytes:
    """A CSV file as the source system writes it: an order id and four unnamed columns."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["order_id", "column1", "column2", "column3", "column4"])
    for order_id in range(first_id, first_id + rows):
        writer.writerow(
            [order_id, rng.choice(NAMES), rng.randint(20, 65), rng.choice(JOBS),
             round(rng.uniform(10, 500), 2)]
        )  # fmt: skip
    return out.getvalue().encode()


def prepare_bucket(s3: Any, bucket: str) -> None:
    """Create ``bucket`` if it is missing and upload the Glue job's script to it."""
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="scripts/sales_summary.py", Body=GLUE_SCRIPT.read_bytes())


def land(
    bucket: str = "lake", files: int = 3, rows: int = 50, seed: int | None = None
) -> list[str]:
    """Land ``files`` CSV files of ``rows`` rows; returns their s3:// URLs."""
    import boto3

    s3 = boto3.client("s3")
    prepare_bucket(s3, bucket)
    rng = random.Random(seed)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    landed = []
    for number in range(files):
        key = f"landing/sales/sales_{stamp}_{number}.csv"
        s3.put_object(Bucket=bucket, Key=key, Body=sales_csv(rng, number * rows + 1, rows))
        landed.append(f"s3://{bucket}/{key}")
    log.info("landed %d files in s3://%s/landing/sales/", len(landed), bucket)
    return landed


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    land(sys.argv[1] if len(sys.argv) > 1 else "lake", int(sys.argv[2]) if len(sys.argv) > 2 else 3)
