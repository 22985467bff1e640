"""Staging on Azure (Azurite) tells its lineage with lakeroutine-openlineage installed: the
naming spec's ``wasbs://CONTAINER@ACCOUNT.dfs.core.windows.net`` namespace, the account
coming from the storage (``az://`` URLs do not name it), prefix-level datasets with counts."""

from __future__ import annotations

import sys
from pathlib import Path

from azurite import ACCOUNT

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "openlineage" / "tests"))
from lr_openlineage_helpers import file_transport, staging_lineage

FILES = {f"day{i % 2}/sales_{i}.csv": f"a,b\n{i},x{i}\n".encode() for i in range(6)}


def test_staging_on_azure_names_the_account(container, routine, run, tmp_path, monkeypatch):
    events_file = file_transport(tmp_path, monkeypatch)
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "azure,openlineage")
    for rel, body in FILES.items():
        container.put("landing/" + rel, body)
    result = run(
        routine(
            parent_directory="az://lake/landing/",
            dump_directory="az://lake/staging/",
            archive_or_delete="delete",
        )
    )
    assert result.status == "succeeded", result.tasks
    namespace = f"wasbs://lake@{ACCOUNT}.dfs.core.windows.net"
    _, post = staging_lineage(events_file, namespace, "landing", "staging", FILES)
    assert post["outputs"] == []  # deleted, not archived: nothing written
