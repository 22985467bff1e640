"""examples/sftp-to-s3 runs as written: `lakeroutine run` against asyncssh's SFTP server and
moto's S3 server on loopback, its settings from the environment variables it documents."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROUTINE = Path(__file__).resolve().parents[3] / "examples" / "sftp-to-s3" / "routine.json"
LANDED = {
    "day1/a.csv": "column1,column2,column3\nann,31,cook\n",
    "b.csv": "column1,column2\nbob,40\n",
    "notes.txt": "not a csv: not staged",
}


@pytest.mark.slow
def test_the_sftp_to_s3_example(asyncssh_server, moto_endpoint, tmp_path, monkeypatch):
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="lake")
    for rel, body in LANDED.items():
        asyncssh_server.write(f"outgoing/{rel}", body)
    env = {
        **os.environ,
        "LAKEROUTINE_PLUGINS": "sftp,s3",
        "LAKEROUTINE_STATE_DIR": str(tmp_path / "state"),
        "PARTNER_SFTP_URL": asyncssh_server.url("outgoing/"),
        "PARTNER_SFTP_KEY_FILE": str(asyncssh_server.key_file),
        "PARTNER_SFTP_KNOWN_HOSTS": str(asyncssh_server.known_hosts),
    }
    command = [sys.executable, "-m", "lakeroutine.cli", "run", str(ROUTINE)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    staged = {
        item["Key"]: s3.get_object(Bucket="lake", Key=item["Key"])["Body"].read()
        for item in s3.list_objects_v2(Bucket="lake").get("Contents", [])
    }
    assert staged == {
        "staging/partner/day1/a.csv": b"name,age,job\r\nann,31,cook\r\n",
        "staging/partner/b.csv": b"name,age\r\nbob,40\r\n",
    }
    assert asyncssh_server.files("outgoing") == {"notes.txt": b"not a csv: not staged"}
    archived = asyncssh_server.files("outgoing_archive")
    assert archived == {k: v.encode() for k, v in LANDED.items() if k.endswith(".csv")}
