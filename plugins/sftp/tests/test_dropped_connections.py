"""SFTP staging while the SSH connection is dropped again and again mid-run: operations are
repeated on a new connection, and the routine ends with every file staged once, archived
once, and nothing lost or left claimed."""

from __future__ import annotations

from staging_support import EARLIER, assert_archived_beside_earlier
from tcp_dropper import TcpDropper

FILES = {f"d{i % 3}/f{i:03}.csv": f"id\n{i}\n".encode() * 50 for i in range(60)}


def test_sftp_to_sftp_with_the_connection_dropped(asyncssh_server, routine, run):
    for rel, body in FILES.items():
        asyncssh_server.write(f"landing/{rel}", body)
    asyncssh_server.write("landing_archive/d0/f000.csv", EARLIER)
    with TcpDropper(asyncssh_server.port, every=60_000) as dropper:
        url = f"sftp://tester@127.0.0.1:{dropper.port}"
        known = asyncssh_server.known_hosts
        known.write_text(
            known.read_text().replace(f"]:{asyncssh_server.port} ", f"]:{dropper.port} ")
        )
        result = run(
            routine(
                parent_directory=f"{url}/landing/",
                dump_directory=f"{url}/staging/",
                storage_options=asyncssh_server.options(),
            )
        )
    assert result.status == "succeeded", result.tasks
    assert dropper.drops >= 3 and dropper.connections > dropper.drops
    files = asyncssh_server.files
    assert {k: v for k, v in files("landing").items()} == {}  # nothing left, not even claims
    assert {k: v for k, v in files("staging").items() if "/." not in "/" + k} == FILES
    archive = {k: v for k, v in files("landing_archive").items() if "/." not in "/" + k}
    assert_archived_beside_earlier(archive, FILES, "d0/f000.csv")
