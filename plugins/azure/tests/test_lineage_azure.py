"""Staging on Azure (Azurite) tells its lineage with lakeroutine-openlineage installed: the
naming spec's ``wasbs://CONTAINER@ACCOUNT.dfs.core.windows.net`` namespace, the account
coming from the storage (``az://`` URLs do not name it), prefix-level datasets with counts."""

from __future__ import annotations

import sys
from pathlib import Path

from azurite import ACCOUNT

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "openlineage" / "tests"))
from lr_openlineage_helpers import file_transport, valid_events

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
    events = valid_events(events_file)
    transfer = events[1]
    namespace = f"wasbs://lake@{ACCOUNT}.dfs.core.windows.net"
    [landing], [staged] = transfer["inputs"], transfer["outputs"]
    assert (landing["namespace"], landing["name"]) == (namespace, "landing")
    assert (staged["namespace"], staged["name"]) == (namespace, "staging")
    assert staged["outputFacets"]["outputStatistics"]["fileCount"] == len(FILES)
    assert staged["outputFacets"]["outputStatistics"]["size"] == sum(map(len, FILES.values()))
    assert events[3]["outputs"] == []  # deleted, not archived: nothing written
