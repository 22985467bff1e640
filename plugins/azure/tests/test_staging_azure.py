"""The StagingExecutor on Azure Blob Storage (Azurite): Azure to Azure and mixed with local
folders, the staging guarantees, bad input refused before anything moves, and account keys
never shown."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from azurite import ACCOUNT, KEY, connection_string
from lakeroutine.errors import RoutineError
from staging_support import EARLIER, assert_archived_beside_earlier, listing_memory_peaks

FILES = {f"day{i % 2}/sales_{i}.csv": f"column1,column2\nname{i},{i}\n".encode() for i in range(12)}
WRITES = ("put_blob", "put_block", "commit", "copy", "batch", "delete")
WRONG_KEY = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="


def land(container, prefix: str = "landing/") -> None:
    for rel, body in FILES.items():
        container.put(prefix + rel, body)


@pytest.mark.parametrize("mode", ["archive", "delete"])
def test_azure_to_azure(container, az_via, routine, run, mode):
    land(container)
    container.put("landing_archive/day0/sales_0.csv", EARLIER)
    proxy = az_via()
    result = run(
        routine(
            parent_directory="az://lake/landing/",
            dump_directory="az://lake/staging/",
            archive_or_delete=mode,
        )
    )
    assert result.status == "succeeded", result.tasks
    assert container.objects("staging/") == FILES
    assert container.objects("landing/") == {}
    assert_archived_beside_earlier(
        container.objects("landing_archive/"), FILES, "day0/sales_0.csv", mode
    )
    assert proxy.count("batch") >= 1 and proxy.count("delete") == 0  # Blob Batch deletes
    batches = b"".join(r.body for r in proxy.requests if r.operation == "batch")
    assert batches.lower().count(b"if-match:") == len(FILES)  # exactly the version staged


@pytest.mark.parametrize("direction", ["local to azure", "azure to local"])
def test_mixed_local_and_azure(container, routine, run, lake, direction):
    if direction == "local to azure":
        for rel, body in FILES.items():
            lake.write(rel, body)
        params = {"parent_directory": str(lake.landing), "dump_directory": "az://lake/staging/"}
    else:
        land(container)
        params = {"parent_directory": "az://lake/landing", "dump_directory": str(lake.staging)}
    result = run(routine(**params))
    assert result.status == "succeeded", result.tasks
    if direction == "local to azure":
        assert container.objects("staging/") == FILES
        assert lake.files(lake.landing) == {}
        assert lake.files(lake.root / "landing_archive") == FILES
    else:
        assert lake.files(lake.staging) == FILES
        assert container.objects("landing/") == {}
        assert container.objects("landing_archive/") == FILES


def test_a_missing_container_is_refused_before_anything_moves(container, az_via, routine, run):
    land(container)
    proxy = az_via()
    with pytest.raises(RoutineError, match=r"params\.dump_directory.*container 'nope' does not"):
        run(routine(parent_directory="az://lake/landing/", dump_directory="az://nope/staging/"))
    assert not any(proxy.count(op) for op in WRITES)
    assert container.objects("landing/") == FILES


def test_a_refused_key_is_named_and_never_shown(container, azurite, lake, tmp_path):
    """A wrong account key in the routine: exit 2 naming the field; neither key shows in
    the output, the debug log or the report."""
    land(container)
    options = {"az": {"connection_string": connection_string(azurite, WRONG_KEY)}}
    params = {
        "parent_directory": "az://lake/landing/",
        "dump_directory": "az://lake/staging/",
        "storage_options": options,
    }
    routine = {
        "routine_name": "r",
        "executors": {"StagingExecutor": {"params": params, "tasks": ["transfer"]}},
    }
    path = lake.routine_file(routine)
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "lakeroutine.cli", "--debug", "run", str(path)]
    done = subprocess.run(
        [*command, "--report", str(report)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "parent_directory" in done.stderr and "credentials were refused" in done.stderr
    shown = done.stdout + done.stderr + (report.read_text() if report.exists() else "")
    assert WRONG_KEY not in shown and KEY not in shown
    assert container.objects("landing/") == FILES


def test_account_key_and_url_params(container, azurite, routine, run, monkeypatch):
    land(container)
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    options = {"az": {"account_url": f"{azurite}/{ACCOUNT}", "account_key": KEY}}
    result = run(
        routine(
            parent_directory="az://lake/landing/",
            dump_directory="az://lake/staging/",
            storage_options=options,
        )
    )
    assert result.status == "succeeded", result.tasks
    assert KEY not in json.dumps([t.output for t in result.tasks])
    assert container.objects("staging/") == FILES


def test_no_account_at_all_is_a_clear_error(container, routine, run, monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    with pytest.raises(RoutineError, match="no Azure account given"):
        run(routine(parent_directory="az://lake/landing/", dump_directory="az://lake/s/"))


def test_an_unknown_azure_option_is_named(container, routine, run):
    with pytest.raises(RoutineError, match=r"storage_options\.az\.acount_key"):
        run(
            routine(
                parent_directory="az://lake/landing/",
                dump_directory="az://lake/staging/",
                storage_options={"az": {"acount_key": "x"}},
            )
        )


def test_exit_code_2_from_the_command_line(container, lake):
    routine = {
        "routine_name": "r",
        "executors": {
            "StagingExecutor": {
                "params": {"parent_directory": "az://nope/landing/", "dump_directory": "out"},
                "tasks": ["transfer"],
            }
        },
    }
    path = lake.routine_file(routine)
    command = [sys.executable, "-m", "lakeroutine.cli", "run", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "parent_directory" in done.stderr and "container 'nope' does not exist" in done.stderr
    assert KEY not in done.stderr


def test_listing_memory_is_flat(container):
    """Listing pages are let go as they are read: one page of names in memory, not all."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: container.put(f"m/{i:05}", b""), range(900)))
    one_page, nine_pages = listing_memory_peaks(
        "lakeroutine_azure.storage", "AzureStorage", {"az": {"list_page_size": 100}}, "az://lake/m/"
    )
    assert nine_pages < one_page * 1.2, (one_page, nine_pages)


def test_an_account_url_alone_needs_azure_identity(container, azurite, routine, run, monkeypatch):
    """Without a key, a SAS token or a connection string, DefaultAzureCredential is the way:
    where azure-identity is not installed (as in the development install), the error says
    how to get it, naming the field, before anything moves."""
    import importlib.util

    if importlib.util.find_spec("azure.identity"):
        pytest.skip("azure-identity is installed: DefaultAzureCredential is tried instead")
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    options = {"az": {"account_url": f"{azurite}/{ACCOUNT}"}}
    with pytest.raises(RoutineError, match=r"parent_directory.*lakeroutine-azure\[identity\]"):
        run(
            routine(
                parent_directory="az://lake/landing/",
                dump_directory="az://lake/staging/",
                storage_options=options,
            )
        )
