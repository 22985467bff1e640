"""One routine moving files landing -> staging across storages, through the notebook's
transformation contract: S3 -> GCS, Azure -> local, SFTP -> S3 and local -> Azure, each on
its real emulator or server on loopback (moto, fake-gcs-server, Azurite, asyncssh's SFTP)."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
for plugin in ("gcs", "azure", "sftp"):  # the emulator helpers beside each plugin's tests
    sys.path.insert(0, str(ROOT / "plugins" / plugin / "tests"))

from azurite import connection_string, running_azurite  # noqa: E402
from gcs_emulator import running_emulator  # noqa: E402
from sftp_servers import remove, start_asyncssh  # noqa: E402

pytestmark = pytest.mark.slow

NOTEBOOK = ROOT / "examples" / "notebook"
MAPPER = {"column1": "name", "column2": "age", "column3": "job"}
LANDED = {
    "a.csv": "column1,column2,column3\nann,31,cook\n",
    "2026/b.csv": "column1,column2\nbob,40\n",
}
STAGED = {"a.csv": b"name,age,job\r\nann,31,cook\r\n", "2026/b.csv": b"name,age\r\nbob,40\r\n"}


@pytest.fixture(scope="module")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    folder = tmp_path_factory.mktemp("sftp")
    sftp = start_asyncssh(folder)
    try:
        with running_emulator() as gcs, running_azurite() as azure:
            yield {"gcs": gcs, "azure": azure, "sftp": sftp}
    finally:
        remove(sftp, folder)


def test_every_mix_of_locations(emulators, moto_endpoint, lake, run, monkeypatch, tmp_path):
    import boto3
    from azure.storage.blob import BlobServiceClient
    from google.cloud import storage

    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "s3,gcs,azure,sftp")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulators["gcs"])
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string(emulators["azure"]))
    sftp = emulators["sftp"]
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="lake")
    gcs = storage.Client(project="test").create_bucket("lake")
    azure = BlobServiceClient.from_connection_string(connection_string(emulators["azure"]))
    container = azure.create_container("lake")
    local_in, local_out = lake.landing, lake.root / "staging"
    for rel, body in LANDED.items():
        s3.put_object(Bucket="lake", Key=f"s3-landing/{rel}", Body=body.encode())
        container.upload_blob(f"az-landing/{rel}", body.encode())
        sftp.write(f"landing/{rel}", body)
        lake.write(rel, body)

    shutil.copytree(NOTEBOOK / "py_exec", tmp_path / "py_exec")
    common = {"py_exec_path": "py_exec/", "py_exec_args": {"mapper": MAPPER}}
    moves = {
        "s3_to_gcs": ("s3://lake/s3-landing/", "gs://lake/from-s3/", "archive"),
        "azure_to_local": ("az://lake/az-landing/", str(local_out), "delete"),
        "sftp_to_s3": (sftp.url("landing/"), "s3://lake/from-sftp/", "archive"),
        "local_to_azure": (str(local_in), "az://lake/from-local/", "delete"),
    }
    executors = {
        name: {
            "executor": "StagingExecutor",
            "params": {
                "parent_directory": landing,
                "dump_directory": staging,
                "archive_or_delete": mode,
                "storage_options": sftp.options(),  # the s3, gs and az storages ignore it
                **common,
            },
            "tasks": ["transfer", "post_staging"],
        }
        for name, (landing, staging, mode) in moves.items()
    }
    path = tmp_path / "routine.json"
    path.write_text(json.dumps({"routine_name": "mixed", "executors": executors}))

    result = run(path)

    assert result.status == "succeeded", result.tasks
    s3_objects = {
        item["Key"]: s3.get_object(Bucket="lake", Key=item["Key"])["Body"].read()
        for item in s3.list_objects_v2(Bucket="lake").get("Contents", [])
    }
    assert {
        k[len("from-sftp/") :]: v for k, v in s3_objects.items() if k.startswith("from-sftp/")
    } == STAGED
    assert not any(k.startswith("s3-landing/") for k in s3_objects)
    archived = {k[len("s3-landing_archive/") :]: v for k, v in s3_objects.items() if "archive" in k}
    assert archived == {k: v.encode() for k, v in LANDED.items()}
    gcs_objects = {b.name: b.download_as_bytes() for b in gcs.list_blobs()}
    assert gcs_objects == {f"from-s3/{k}": v for k, v in STAGED.items()}
    blobs = {b.name: container.download_blob(b.name).readall() for b in container.list_blobs()}
    assert blobs == {f"from-local/{k}": v for k, v in STAGED.items()}  # az-landing: deleted
    assert lake.files(local_out) == STAGED
    assert lake.files(local_in) == {}
    assert sftp.files("landing") == {}
    assert sftp.files("landing_archive") == {k: v.encode() for k, v in LANDED.items()}
