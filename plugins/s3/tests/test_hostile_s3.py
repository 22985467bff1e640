"""Staging from S3 tried as a hostile user would: keys that climb out of the staging folder
or collide, a key that is also a folder, aliased bucket URLs, objects replaced while
post_staging removes them, and staging names held by another source. Each failed on main
before the fix (see the issue "Staging that loses nothing under hostile names...")."""

from __future__ import annotations

import pytest


def backend_put(bucket, key: str, body: bytes) -> None:
    """Write an object straight into the emulator (HTTP clients may normalise ``..``)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    s3_backends[DEFAULT_ACCOUNT_ID]["global"].put_object(bucket.name, key, body)


HOSTILE = {
    "land/../../victim.txt": "would overwrite a file outside staging",
    "land/a/../../evil.csv": "would be written beside staging",
    "land//z.csv": "would collide with land/z.csv",
    "land/./dot.csv": "a '.' segment",
    "land/k": "both an object and a folder",
    "land/" + "x" * 300 + ".csv": "a segment too long for a local folder",
}
SAFE = {"land/z.csv": "z", "land/k/inner.csv": "inner", "land/ok.csv": "ok"}


@pytest.mark.parametrize("on_refused", ["warn", "fail"])
def test_keys_that_climb_out_collide_or_are_folders_are_left_in_landing(
    bucket, routine, run, tmp_path, on_refused
):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    staging = tmp_path / "stage" / "inner"
    for key, body in {**HOSTILE, **SAFE}.items():
        backend_put(bucket, key, body.encode())

    result = run(
        routine(
            parent_directory="s3://lake/land/",
            dump_directory=str(staging),
            archive_or_delete="delete",
            on_refused=on_refused,
        )
    )

    assert victim.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stage", "state", "victim.txt"]
    staged = {
        p.relative_to(staging).as_posix(): p.read_text() for p in staging.rglob("*") if p.is_file()
    }
    assert staged == {"z.csv": "z", "k/inner.csv": "inner", "ok.csv": "ok"}
    refused = result.tasks[0].output["refused_files"] if on_refused == "warn" else None
    if on_refused == "warn":
        assert result.status == "succeeded", result.tasks
        reasons = {item["file"]: item["reason"] for item in refused}
        assert reasons == {
            "../../victim.txt": "the name has a '..' segment",
            "a/../../evil.csv": "the name has a '..' segment",
            "/z.csv": "the name is absolute (starts with '/')",
            "./dot.csv": "the name has a '.' segment",
            "k": "the name is both a file and a folder prefix of other files",
            "x" * 300 + ".csv": "a segment is longer than 255 bytes",
        }
        # post_staging removed the staged objects only: every refused key is still there.
        assert set(bucket.stored("land/")) == {key[len("land/") :] for key in HOSTILE}
    else:
        assert result.status == "failed"
        assert "6 landing files could not be staged" in result.tasks[0].error
        assert result.tasks[1].status == "skipped"
        assert len(bucket.stored("land/")) == len(HOSTILE) + len(SAFE)


@pytest.mark.parametrize("mode", ["delete", "archive"])
def test_an_object_replaced_just_before_its_delete_survives(bucket, routine, run, proxy, mode):
    """Objects are replaced after post_staging listed (and archived) them, just before the
    DeleteObjects request reaches S3. The request carries each key's staged ETag; S3 (here
    the proxy, which enforces what S3 enforces and moto ignores) keeps the replacements."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    keys = [f"land/f{number:03}.csv" for number in range(60)]
    for key in keys:
        bucket.put(key, f"original {key}")
    params = {"parent_directory": "s3://lake/land/", "dump_directory": "s3://lake/stg/"}
    assert run(routine(**params, archive_or_delete=mode, tasks=["transfer"])).status == "succeeded"
    replaced = keys[::7]

    def replace_before_delete(request) -> None:
        if request.operation == "DeleteObjects":
            backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
            for key in replaced:
                backend.put_object("lake", key, f"replacement of {key}".encode())

    enforcing = proxy(before_forward=replace_before_delete, enforce_conditions=True)
    result = run(
        routine(
            **params,
            archive_or_delete=mode,
            endpoint_url=enforcing.url,
            tasks=["post_staging"],
        )
    )

    assert result.status == "succeeded", result.tasks
    post = result.tasks[0].output
    assert post[f"{mode}d"] == len(keys) - len(replaced)
    assert post["changed_since_staged"] == len(replaced)
    assert sorted(enforcing.refused) == sorted(replaced)
    assert bucket.stored("land/") == {
        key[len("land/") :]: f"replacement of {key}".encode() for key in replaced
    }
    if mode == "archive":  # the archive holds the staged versions only
        archived = bucket.stored("land_archive/")
        assert archived == {key[len("land/") :]: f"original {key}".encode() for key in keys}
    # The next run stages the replacements and removes them.
    again = run(routine(**params, archive_or_delete=mode))
    assert again.tasks[0].output["staged"] == len(replaced)
    assert bucket.stored("land/") == {}


def test_a_staging_object_from_elsewhere_is_not_overwritten(bucket, routine, run, proxy):
    """S3 to S3 without the HEAD (as on AWS S3): the create-only CopyObject's IfNoneMatch,
    enforced by S3 (here by the proxy), refuses the taken name."""
    bucket.put("stg/a.csv", "someone else's")
    bucket.put("land/a.csv", "ours")
    bucket.put("land/b.csv", "b")
    enforcing = proxy(enforce_conditions=True)
    result = run(
        routine(
            parent_directory="s3://lake/land/",
            dump_directory="s3://lake/stg/",
            archive_or_delete="delete",
            endpoint_url=enforcing.url,
            storage_options={"check_absent_before_copy": False},
        )
    )
    assert result.status == "succeeded", result.tasks
    [refused] = result.tasks[0].output["refused_files"]
    assert refused["file"] == "a.csv" and "staging already holds a.csv" in refused["reason"]
    assert bucket.stored("stg/") == {"a.csv": b"someone else's", "b.csv": b"b"}
    assert bucket.stored("land/") == {"a.csv": b"ours"}
