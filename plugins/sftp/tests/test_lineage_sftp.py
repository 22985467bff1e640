"""Staging on SFTP (asyncssh's server and OpenSSH's sshd) tells its lineage with
lakeroutine-openlineage installed: folder-level datasets named ``sftp://HOST:PORT`` / the
folder's path (the user and the storage options never in a name), with file and byte
counts; every event valid by the OpenLineage schemas."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "openlineage" / "tests"))
from lr_openlineage_helpers import file_transport, staging_lineage

FILES = {f"day{i % 2}/sales_{i}.csv": f"a,b\n{i},x{i}\n".encode() for i in range(6)}


def test_staging_on_sftp_emits_folder_datasets(sftp_server, routine, run, tmp_path, monkeypatch):
    events_file = file_transport(tmp_path, monkeypatch)
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "sftp,openlineage")
    for rel, body in FILES.items():
        sftp_server.write(f"landing/{rel}", body)
    result = run(
        routine(
            parent_directory=sftp_server.url("landing/"),
            dump_directory=sftp_server.url("staging"),
            archive_or_delete="delete",
            storage_options=sftp_server.options(),
        )
    )
    assert result.status == "succeeded", result.tasks
    namespace = f"sftp://{sftp_server.host}:{sftp_server.port}"
    root = sftp_server.url_root
    _, post = staging_lineage(events_file, namespace, f"{root}/landing", f"{root}/staging", FILES)
    assert post["outputs"] == []  # deleted, not archived: nothing written
    text = events_file.read_text()
    assert sftp_server.user + "@" not in text and str(sftp_server.key_file) not in text
