"""The StagingExecutor on S3: every mix of local and S3 locations, transformations, and the
staging guarantees (verified copies, archive without overwrite, late files left alone)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[3] / "examples" / "notebook"
SALES = {
    "parent_directory": "s3://lake/landing/sales/",
    "dump_directory": "s3://lake/staging/sales/",
}
FILES = {f"day{i % 2}/sales_{i}.csv": f"column1,column2\nname{i},{i}\n" for i in range(12)}


def land(bucket, prefix: str = "landing/sales/") -> None:
    for rel, body in FILES.items():
        bucket.put(prefix + rel, body)


def as_bytes(files: dict[str, str]) -> dict[str, bytes]:
    return {k: v.encode() for k, v in files.items()}


@pytest.mark.parametrize("mode", ["archive", "delete"])
def test_s3_to_s3(bucket, routine, run, mode):
    land(bucket)
    result = run(
        routine(
            **SALES,
            archive_or_delete=mode,
        )
    )
    assert result.status == "succeeded", result.tasks
    assert result.tasks[0].output["staged"] == len(FILES)
    assert bucket.objects("staging/sales/") == as_bytes(FILES)
    assert bucket.objects("landing/sales/") == {}
    archived = bucket.objects("landing/sales_archive/")
    assert archived == (as_bytes(FILES) if mode == "archive" else {})


@pytest.mark.parametrize("direction", ["local to s3", "s3 to local"])
def test_mixed_local_and_s3_locations(bucket, routine, run, lake, direction):
    if direction == "local to s3":
        for rel, body in FILES.items():
            lake.write(rel, body)
        params = {"parent_directory": str(lake.landing), "dump_directory": "s3://lake/staging/"}
    else:
        land(bucket)
        params = {
            "parent_directory": "s3://lake/landing/sales",
            "dump_directory": str(lake.staging),
        }
    result = run(routine(**params))
    assert result.status == "succeeded", result.tasks

    if direction == "local to s3":
        assert bucket.objects("staging/") == as_bytes(FILES)
        assert lake.files(lake.landing) == {}
        assert lake.files(lake.root / "landing_archive") == as_bytes(FILES)
    else:
        assert lake.files(lake.staging) == as_bytes(FILES)
        assert bucket.objects("landing/sales/") == {}
        assert bucket.objects("landing/sales_archive/") == as_bytes(FILES)


def test_s3_landing_archived_to_a_local_folder(bucket, routine, run, lake):
    land(bucket)
    archive = lake.root / "archive"
    result = run(
        routine(
            **SALES,
            archive_directory=str(archive),
        )
    )
    assert result.status == "succeeded", result.tasks
    assert lake.files(archive) == as_bytes(FILES)
    assert bucket.objects("staging/sales/") == as_bytes(FILES)
    assert bucket.objects("landing/") == {}


def test_the_notebook_routine_runs_unchanged_on_s3(bucket, run, tmp_path):
    """The notebook's routine (its format and its py_exec.py, written for local folders)
    with only its two paths turned into s3:// URLs."""
    shutil.copytree(NOTEBOOK / "py_exec", tmp_path / "py_exec")
    routine = json.loads((NOTEBOOK / "routine_config.json").read_text())
    params = routine["executors"]["StagingExecutor"]["params"]
    params["parent_directory"] = "s3://lake/landing/people/"
    params["dump_directory"] = "s3://lake/staging/people/"
    path = tmp_path / "routine_config.json"
    path.write_text(json.dumps(routine))
    bucket.put("landing/people/a.csv", "column1,column2,column3\nann,31,cook\n")
    bucket.put("landing/people/2026/b.csv", "column1,column2\nbob,40\n")

    result = run(path)

    assert result.status == "succeeded", result.tasks
    assert bucket.objects("staging/people/") == {
        "a.csv": b"name,age,job\r\nann,31,cook\r\n",
        "2026/b.csv": b"name,age\r\nbob,40\r\n",
    }
    assert bucket.objects("landing/") == {}  # the routine deletes what it staged


def test_a_per_file_function_gets_each_object_as_a_local_file(bucket, routine, run, tmp_path):
    script = tmp_path / "upper.py"
    script.write_text(
        "from pathlib import Path\n"
        "def upper(source, target, suffix=''):\n"
        "    assert Path(source).is_file()\n"
        "    target.with_name(target.name + suffix).write_text(Path(source).read_text().upper())\n"
    )
    land(bucket)
    result = run(
        routine(
            **SALES,
            py_exec_path=f"{script}:upper",
            py_exec_args={"suffix": ".up"},
            archive_or_delete="delete",
        )
    )
    assert result.status == "succeeded", result.tasks
    expected = {f"{k}.up": v.upper().encode() for k, v in FILES.items()}
    assert bucket.objects("staging/sales/") == expected
    assert bucket.objects("landing/") == {}


def test_a_failing_transformation_removes_nothing(bucket, routine, run, tmp_path):
    script = tmp_path / "bad.py"
    script.write_text("def bad(source, target):\n    raise ValueError('broken row')\n")
    land(bucket)
    result = run(
        routine(
            **SALES,
            py_exec_path=f"{script}:bad",
        )
    )
    assert result.status == "failed"
    assert "broken row" in result.tasks[0].error
    assert bucket.objects("landing/sales/") == as_bytes(FILES)


def test_archive_never_overwrites_an_earlier_archived_object(bucket, routine, run):
    bucket.put("landing/sales_archive/day0/sales_0.csv", "archived last week")
    land(bucket)
    result = run(
        routine(
            **SALES,
        )
    )
    assert result.status == "succeeded", result.tasks
    archived = bucket.objects("landing/sales_archive/")
    assert archived["day0/sales_0.csv"] == b"archived last week"
    renamed = [k for k in archived if k.startswith("day0/sales_0.") and k != "day0/sales_0.csv"]
    assert len(renamed) == 1 and archived[renamed[0]] == FILES["day0/sales_0.csv"].encode()
    assert len(archived) == len(FILES) + 1


def test_objects_landing_after_transfer_are_left_alone(bucket, routine, run):
    land(bucket)
    spec = routine(
        **SALES,
        archive_or_delete="delete",
    )
    assert run(spec, only=["StagingExecutor.transfer"]).status == "succeeded"
    bucket.put("landing/sales/late.csv", "arrived late")
    bucket.put("landing/sales/day0/sales_0.csv", "changed after staging")

    result = run(spec, only=["StagingExecutor.post_staging"])

    assert result.status == "succeeded", result.tasks
    assert result.tasks[0].output["changed_since_staged"] == 1
    assert bucket.objects("landing/sales/") == {
        "late.csv": b"arrived late",
        "day0/sales_0.csv": b"changed after staging",
    }


@pytest.mark.parametrize("on_refused", ["warn", "fail"])
def test_a_copy_that_does_not_match_its_listing_is_removed_and_its_source_kept(
    bucket, routine, run, proxy, on_refused
):
    """The source object changes between the listing and its CopyObject (the emulator is
    changed just before the request reaches it): the ETag in the copy's answer differs from
    the listed one, so the copy is removed at once and the new version stays in landing,
    named in the report; every other object is staged and removed."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    def change_source(request) -> None:
        if request.operation == "CopyObject" and request.key == "staging/sales/day1/sales_3.csv":
            backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
            backend.put_object("lake", "landing/sales/day1/sales_3.csv", b"rewritten!")

    land(bucket)
    counting = proxy(before_forward=change_source)
    result = run(
        routine(
            **SALES,
            archive_or_delete="delete",
            endpoint_url=counting.url,
            max_workers=1,
            on_refused=on_refused,
        ),
        only=["StagingExecutor.transfer"],
    )
    transfer = result.tasks[0]
    if on_refused == "fail":
        assert result.status == "failed"
        assert "1 landing file could not be staged and was left" in transfer.error
        assert "changed since it was listed" in transfer.error
    else:
        assert result.status == "succeeded"
        [refused] = transfer.output["refused_files"]
        assert refused["file"] == "day1/sales_3.csv"
        assert "changed since it was listed" in refused["reason"]
    assert "day1/sales_3.csv" not in bucket.keys("staging/sales/")
    assert len(bucket.keys("staging/sales/")) == len(FILES) - 1
    post = run(routine(**SALES, archive_or_delete="delete"), only=["StagingExecutor.post_staging"])
    assert post.tasks[0].output["deleted"] == len(FILES) - 1
    assert bucket.objects("landing/sales/") == {"day1/sales_3.csv": b"rewritten!"}


def test_the_fast_path_costs_one_request_per_object(bucket, routine, run, proxy):
    """S3 to S3 with delete: one CopyObject per object, verified from its answer and the
    listing; no HEAD or GET per object; deletes batched."""
    keys = [f"landing/sales/f{i:04}.csv" for i in range(150)]
    bucket.fill(keys, b"id\n1\n")
    counting = proxy()
    result = run(
        routine(
            **SALES,
            archive_or_delete="delete",
            endpoint_url=counting.url,
            # as on AWS S3, which enforces IfNoneMatch on CopyObject itself
            storage_options={"check_absent_before_copy": False},
        )
    )
    assert result.status == "succeeded", result.tasks
    ops = counting.operations()
    assert ops["CopyObject"] == 150
    assert ops["DeleteObjects"] == 1
    assert ops["HeadObject"] == ops["GetObject"] == ops["PutObject"] == 0
    assert sum(ops.values()) <= 150 + 1 + 6  # + listings and the preflight checks
    assert len(bucket.keys("staging/sales/")) == 150 and bucket.keys("landing/") == []


def test_s3a_urls_name_the_same_buckets(bucket, routine, run):
    land(bucket)
    result = run(
        routine(
            parent_directory="s3a://lake/landing/sales/",
            dump_directory="s3a://lake/staging/sales/",
        )
    )
    assert result.status == "succeeded", result.tasks
    assert bucket.objects("staging/sales/") == as_bytes(FILES)
    assert bucket.objects("landing/sales_archive/") == as_bytes(FILES)
    assert bucket.objects("landing/sales/") == {}


def test_a_local_archive_copy_left_by_a_killed_run_is_not_doubled(bucket, routine, run, lake):
    """S3 landing, local archive: a killed run had already written the archive copy. The
    rerun finds those very bytes there (MD5 against the S3 ETag) and archives once."""
    land(bucket)
    archive = lake.root / "archive"
    (archive / "day0").mkdir(parents=True)
    (archive / "day0" / "sales_0.csv").write_text(FILES["day0/sales_0.csv"])
    (archive / "day1").mkdir()
    (archive / "day1" / "sales_1.csv").write_text("an earlier file of that name")

    result = run(
        routine(
            **SALES,
            archive_directory=str(archive),
        )
    )

    assert result.status == "succeeded", result.tasks
    archived = lake.files(archive)
    assert archived.pop("day1/sales_1.csv") == b"an earlier file of that name"
    renamed = [k for k in archived if k.startswith("day1/sales_1.")]
    assert len(renamed) == 1 and archived.pop(renamed[0]) == FILES["day1/sales_1.csv"].encode()
    assert archived == {k: v for k, v in as_bytes(FILES).items() if k != "day1/sales_1.csv"}
    assert bucket.objects("landing/") == {}


@pytest.mark.parametrize("workers", [1, 4])
def test_copies_run_max_workers_at_a_time(bucket, routine, run, proxy, workers):
    bucket.fill([f"landing/f{i:03}" for i in range(30)], b"x")
    counting = proxy(before_forward=lambda request: time.sleep(0.005))  # overlap visibly
    result = run(
        routine(
            parent_directory="s3://lake/landing/",
            dump_directory="s3://lake/staging/",
            archive_or_delete="delete",
            endpoint_url=counting.url,
            max_workers=workers,
        )
    )
    assert result.status == "succeeded", result.tasks
    assert counting.most_in_flight == workers


def test_an_archive_copy_of_an_unevenly_uploaded_object_left_by_a_killed_run_is_not_doubled(
    bucket, routine, run
):
    import os

    from lakeroutine_s3.storage import S3Storage

    MiB = 1024 * 1024
    data = os.urandom(12 * MiB)
    bucket.put_multipart("landing/uneven.bin", data, sizes=[5 * MiB, 6 * MiB, 1 * MiB])
    params = {"parent_directory": "s3://lake/landing/", "dump_directory": "s3://lake/staging/"}
    assert run(routine(**params, tasks=["transfer"])).status == "succeeded"
    # What a run killed between archiving and deleting leaves: the archive copy, made by
    # the storage's own copy, and the landing object still there.
    storage = S3Storage()
    source = next(storage.list_files("s3://lake/landing/"))
    storage.copy(source, "s3://lake/landing_archive/uneven.bin", overwrite=False)

    result = run(routine(**params, tasks=["post_staging"]))

    assert result.status == "succeeded", result.tasks
    assert bucket.stored("landing/") == {}
    assert bucket.stored("landing_archive/") == {"uneven.bin": data}  # archived once


def test_an_object_rewritten_just_before_its_archive_copy_is_not_archived_or_removed(
    bucket, routine, run, proxy
):
    """The landing object changes between post_staging's listing and its archive
    CopyObject (moto ignores CopySourceIfMatch, S3 would refuse): the copy's ETag is not
    the listed one, so the new version is neither taken as archived nor deleted."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    rewritten = "landing/sales/day1/sales_3.csv"

    def change_source(request) -> None:
        if request.operation == "CopyObject" and request.key == "landing/sales_archive/" + (
            "day1/sales_3.csv"
        ):
            backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
            backend.put_object("lake", rewritten, b"rewritten!")

    land(bucket)
    params = {**SALES, "max_workers": 1}
    assert run(routine(**params, tasks=["transfer"])).status == "succeeded"
    counting = proxy(before_forward=change_source)

    result = run(routine(**params, endpoint_url=counting.url, tasks=["post_staging"]))

    # The other objects are archived and removed; the rewritten one is left in landing,
    # its wrong archive copy removed.
    assert result.status == "succeeded", result.tasks
    post = result.tasks[0].output
    assert post["changed_since_staged"] == 1 and post["archived"] == len(FILES) - 1
    assert bucket.stored("landing/sales/") == {"day1/sales_3.csv": b"rewritten!"}
    assert "day1/sales_3.csv" not in bucket.stored("landing/sales_archive/")
    # Run again: the new version is staged and archived.
    again = run(routine(**params))
    assert again.status == "succeeded", again.tasks
    assert again.tasks[1].output["changed_since_staged"] == 0
    assert bucket.stored("staging/sales/")["day1/sales_3.csv"] == b"rewritten!"
    assert bucket.stored("landing/sales_archive/")["day1/sales_3.csv"] == b"rewritten!"
    assert bucket.stored("landing/sales/") == {}
