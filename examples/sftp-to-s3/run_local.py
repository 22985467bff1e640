"""Run the SFTP-to-S3 example on this machine: an SFTP server and S3 both local, no partner
and no AWS account needed.

Starts asyncssh's SFTP server and moto's S3 server on loopback (fresh keys, a known_hosts
naming the server, a bucket ``lake``), drops sample CSV files in ``/outgoing/``, then runs
``routine.json`` with the ordinary ``lakeroutine run`` command line, its settings given by
the environment variables the routine documents. Prints what landed in S3 and what was
archived on the server. ``python examples/sftp-to-s3/run_local.py [--report FILE]``.
Needs ``pip install ./core ./plugins/sftp ./plugins/s3 moto[server]`` (from a clone).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DROPPED = {  # what the partner drops: two CSV files (one in a day folder) and a note
    "day1/a.csv": "column1,column2,column3\nann,31,cook\n",
    "b.csv": "column1,column2,column3\nbob,40,pilot\n",
    "notes.txt": "not a csv: left alone",
}
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "local-access-key",
    "AWS_SECRET_ACCESS_KEY": "local-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}

log = logging.getLogger("run_local")


@contextmanager
def local_sftp(folder: Path) -> Iterator[dict[str, str]]:
    """asyncssh's SFTP server on loopback serving ``folder/root`` to user ``lake`` with a
    fresh key; yields the routine's PARTNER_SFTP_* settings for it."""
    import warnings

    with warnings.catch_warnings():  # its import warns about DSA (cryptography): not ours
        warnings.simplefilter("ignore")
        import asyncssh

    root = folder / "root"
    root.mkdir()
    host_key, client_key = (asyncssh.generate_private_key("ssh-ed25519") for _ in range(2))
    host_key.write_private_key(str(folder / "host_key"))
    client_key.write_private_key(str(folder / "client_key"))
    client_key.write_public_key(str(folder / "client_key.pub"))
    os.chmod(folder / "client_key", 0o600)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    async def listen() -> Any:
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[str(folder / "host_key")],
            authorized_client_keys=str(folder / "client_key.pub"),
            sftp_factory=lambda channel: asyncssh.SFTPServer(channel, chroot=str(root)),
        )

    acceptor = asyncio.run_coroutine_threadsafe(listen(), loop).result(30)
    port = acceptor.sockets[0].getsockname()[1]
    public = host_key.export_public_key().decode().split()[:2]
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(public)}\n")
    try:
        yield {
            "PARTNER_SFTP_URL": f"sftp://lake@127.0.0.1:{port}/outgoing/",
            "PARTNER_SFTP_KEY_FILE": str(folder / "client_key"),
            "PARTNER_SFTP_KNOWN_HOSTS": str(folder / "known_hosts"),
        }
    finally:

        async def close() -> None:
            acceptor.close()
            await acceptor.wait_closed()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:  # the server's sessions
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)


@contextmanager
def local_s3() -> Iterator[str]:
    """moto's S3 on loopback with fake credentials (the user's AWS profile set aside) and
    the bucket ``lake``; yields its URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update({**FAKE_AWS, "AWS_ENDPOINT_URL": endpoint})
    boto3.client("s3").create_bucket(Bucket="lake")
    try:
        yield endpoint
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, help="where to write the JSON run report")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")  # libraries: quiet
    log.setLevel(logging.INFO)

    from lakeroutine import cli

    with tempfile.TemporaryDirectory(prefix="lakeroutine-sftp-") as work:
        folder = Path(work)
        os.environ["LAKEROUTINE_STATE_DIR"] = str(folder / "state")  # a fresh run each time
        with local_sftp(folder) as sftp, local_s3() as endpoint:
            os.environ.update(sftp)
            log.info("local SFTP at %s, local S3 (moto) at %s", sftp["PARTNER_SFTP_URL"], endpoint)
            for relpath, text in DROPPED.items():
                path = folder / "root" / "outgoing" / relpath
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            command = ["run", str(HERE / "routine.json")]
            code = cli.main(command + (["--report", str(args.report)] if args.report else []))
            if code != 0:
                log.error("the routine did not succeed (exit %d): its error is above", code)
                return code
            _show(folder / "root")
    return code


def _show(root: Path) -> None:
    """What the run did: the S3 objects written and the files archived on the server."""
    import boto3

    s3 = boto3.client("s3")
    for item in s3.list_objects_v2(Bucket="lake").get("Contents", []):
        body = s3.get_object(Bucket="lake", Key=item["Key"])["Body"].read().decode()
        sys.stdout.write(f"s3://lake/{item['Key']}:\n{body}")
    for path in sorted((root / "outgoing_archive").rglob("*")):
        if path.is_file():
            sys.stdout.write(f"archived on the SFTP server: /{path.relative_to(root)}\n")
    for path in sorted((root / "outgoing").rglob("*")):
        if path.is_file():
            sys.stdout.write(f"left in /outgoing/: {path.relative_to(root / 'outgoing')}\n")


if __name__ == "__main__":
    sys.exit(main())
