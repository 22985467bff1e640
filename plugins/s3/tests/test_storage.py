"""The S3 storage on its own, over real HTTP to moto: requests counted by a loopback proxy."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from lakeroutine.storage.base import FileInfo, Storage

MiB = 1024 * 1024
BIG = {"multipart_threshold": 5 * MiB, "multipart_chunksize": 5 * MiB}


def big_bytes(size: int) -> bytes:
    return os.urandom(1024) * (size // 1024) + os.urandom(size % 1024)


def test_implements_the_storage_protocol(storage_via):
    storage, _ = storage_via()
    assert isinstance(storage, Storage)
    assert storage.join("s3://lake/landing/", "a/b.csv") == "s3://lake/landing/a/b.csv"
    assert storage.join("s3://lake/landing", "b.csv") == "s3://lake/landing/b.csv"
    assert storage.join("s3://lake", "b.csv") == "s3://lake/b.csv"


def test_listing_is_paginated_and_streamed(bucket, storage_via):
    keys = [f"landing/day{i % 3}/f{i:05}.csv" for i in range(2100)]
    bucket.fill(
        [*keys, "landing_archive/other.csv", "landing/folder/", "landing/.x.lakeroutine-tmp-1"]
    )
    storage, counting = storage_via()

    files = storage.list_files("s3://lake/landing/")
    first = next(files)
    assert counting.count("ListObjectsV2") == 1  # one page fetched, not the whole listing
    rest = list(files)
    assert counting.count("ListObjectsV2") == 3
    assert sorted([first.relpath] + [f.relpath for f in rest]) == sorted(k[8:] for k in keys)
    assert first.size == 1 and first.etag and not first.etag.startswith('"')
    assert first.url == f"s3://lake/landing/{first.relpath}"


@pytest.mark.parametrize(
    "request_",
    [{}, {"Delimiter": "/"}, {"StartAfter": "l/n0500"}, {"MaxKeys": 7}],
    ids=["plain", "delimiter", "start-after", "short-page"],
)
def test_listing_pages_parse_once_as_botocore_parses_them(bucket, s3_client, storage_via, request_):
    """The storage parses ListObjectsV2 pages in one pass into botocore's own answer (keys
    URL-decoded, checksums, tokens); a page holding what that pass does not know (common
    prefixes) is botocore's to parse."""
    keys = ["l/a b", "l/\u00fc+%20&<x>", "l/x\ty", "l/d/e", *(f"l/n{i:04}" for i in range(1100))]
    bucket.fill(keys)
    s3_client.put_object(Bucket="lake", Key="l/crc", Body=b"12", ChecksumAlgorithm="CRC32")
    storage, _ = storage_via()
    bodies = []
    storage.client.meta.events.register_last(
        "before-parse.s3.ListObjectsV2", lambda response_dict, **_: bodies.append(response_dict)
    )
    ours = storage.client.list_objects_v2(Bucket="lake", Prefix="l/", **request_)
    theirs = s3_client.list_objects_v2(Bucket="lake", Prefix="l/", **request_)
    ours.pop("ResponseMetadata"), theirs.pop("ResponseMetadata")
    assert ours == theirs
    one_pass = b"<Contents>" not in bodies[0]["body"]  # left nothing for botocore to parse
    assert one_pass == ("Delimiter" not in request_)


def test_delete_many_goes_in_batches_of_1000(bucket, storage_via):
    keys = [f"landing/f{i:05}" for i in range(2100)]
    bucket.fill(keys)
    storage, counting = storage_via()

    storage.delete_many(f"s3://lake/{k}" for k in [*keys, "landing/never-there"])

    assert bucket.keys("landing/") == []
    batches = [r for r in counting.requests if r.operation == "DeleteObjects"]
    assert [r.body.count(b"<Key>") for r in batches] == [1000, 1000, 101]
    assert counting.count() == 3


def test_copy_is_verified_from_the_copy_answer_without_a_head(bucket, storage_via):
    bucket.put("landing/a.csv", "id\n1\n")
    storage, counting = storage_via()
    source = next(storage.list_files("s3://lake/landing/"))

    written = storage.copy(source, "s3://lake/staging/a.csv")

    assert written.same_content_as(source) and written.etag == source.etag
    assert counting.operations() == {"ListObjectsV2": 1, "CopyObject": 1}
    assert bucket.objects("staging/") == {"a.csv": b"id\n1\n"}


def test_a_multipart_object_is_copied_in_its_own_parts_and_keeps_its_etag(
    bucket, storage_via, tmp_path
):
    data = big_bytes(11 * MiB)
    (tmp_path / "big").write_bytes(data)
    storage, counting = storage_via(**BIG)
    storage.upload(tmp_path / "big", "s3://lake/landing/big.bin")
    source = next(storage.list_files("s3://lake/landing/"))
    assert source.etag.endswith("-3")  # a multipart ETag: not the content's MD5

    written = storage.copy(source, "s3://lake/staging/big.bin")

    assert written.etag == source.etag and written.size == source.size
    assert counting.operations()["UploadPartCopy"] == 3
    assert bucket.objects("staging/")["big.bin"] == data
    # Archiving it again finds this very copy: same ETag, so the core counts it as archived.
    with pytest.raises(FileExistsError):
        storage.copy(source, "s3://lake/staging/big.bin", overwrite=False)
    assert storage.stat("s3://lake/staging/big.bin").etag == source.etag


def test_large_copies_use_upload_part_copy(bucket, storage_via):
    data = big_bytes(11 * MiB + 17)
    bucket.put("landing/big.bin", data)
    storage, counting = storage_via(
        multipart_copy_threshold=5 * MiB, multipart_copy_part_size=5 * MiB
    )
    source = next(storage.list_files("s3://lake/landing/"))

    written = storage.copy(source, "s3://lake/staging/big.bin")

    ops = counting.operations()
    assert ops["UploadPartCopy"] == 3 and ops["CompleteMultipartUpload"] == 1
    assert ops["CopyObject"] == 0
    assert written.size == len(data)
    assert bucket.objects("staging/")["big.bin"] == data


def test_uploads_and_downloads_are_multipart_above_the_threshold(bucket, storage_via, tmp_path):
    data = big_bytes(12 * MiB + 3)
    (tmp_path / "big").write_bytes(data)
    storage, counting = storage_via(**BIG)

    written = storage.upload(tmp_path / "big", "s3://lake/landing/big.bin")
    assert written.size == len(data)
    assert counting.count("UploadPart") == 3 and counting.count("PutObject") == 0

    storage.download("s3://lake/landing/big.bin", tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == data
    assert counting.count("GetObject") == 3  # ranged GETs of 5 MiB


def test_small_files_take_one_request_each_way(bucket, storage_via, tmp_path):
    (tmp_path / "small").write_bytes(b"hello")
    (tmp_path / "empty").write_bytes(b"")
    storage, counting = storage_via()

    assert storage.upload(tmp_path / "small", "s3://lake/x/small").size == 5
    assert storage.upload(tmp_path / "empty", "s3://lake/x/empty").size == 0
    storage.download("s3://lake/x/small", tmp_path / "small.back")
    assert (tmp_path / "small.back").read_bytes() == b"hello"
    assert counting.operations() == {"PutObject": 2, "GetObject": 1}
    storage.download("s3://lake/x/empty", tmp_path / "empty.back")
    assert (tmp_path / "empty.back").read_bytes() == b""


@pytest.mark.parametrize("how", ["copy", "upload", "multipart upload"])
def test_no_overwrite_writes_keep_the_existing_object(bucket, storage_via, tmp_path, how):
    bucket.put("archive/a.csv", "the earlier archived file")
    bucket.put("landing/a.csv", "a new file")
    storage, _ = storage_via(**BIG)
    target = "s3://lake/archive/a.csv"

    with pytest.raises(FileExistsError):
        if how == "copy":
            source = next(storage.list_files("s3://lake/landing/"))
            storage.copy(source, target, overwrite=False)
        else:
            local = tmp_path / "a.csv"
            local.write_bytes(b"a new file" * (MiB if how == "multipart upload" else 1))
            storage.upload(local, target, overwrite=False)

    assert bucket.objects("archive/") == {"a.csv": b"the earlier archived file"}


def test_no_overwrite_copy_to_a_free_name_works(bucket, storage_via):
    bucket.put("landing/a.csv", "data")
    storage, _ = storage_via()
    source = next(storage.list_files("s3://lake/landing/"))
    written = storage.copy(source, "s3://lake/archive/a.csv", overwrite=False)
    assert written.same_content_as(source)
    assert storage.stat("s3://lake/archive/a.csv").etag == source.etag
    assert storage.stat("s3://lake/archive/none") is None


def test_stat_and_fileinfo(bucket, storage_via):
    bucket.put("landing/sub/a.csv", "12345")
    storage, _ = storage_via()
    info = storage.stat("s3://lake/landing/sub/a.csv")
    assert isinstance(info, FileInfo)
    assert (info.size, info.relpath, info.url) == (5, "a.csv", "s3://lake/landing/sub/a.csv")


def test_downloading_a_missing_object_is_an_error(bucket, storage_via, tmp_path):
    storage, _ = storage_via()
    with pytest.raises(Exception, match="landing/none"):
        storage.download("s3://lake/landing/none", Path(tmp_path / "x"))


@pytest.mark.parametrize("size", [10, 11 * MiB])
def test_a_no_overwrite_upload_of_the_same_bytes_counts_as_written(
    bucket, storage_via, tmp_path, size
):
    """The key already holds exactly this file as our upload writes it (a retried request
    whose first reply was lost, or a killed run): no error, no second object."""
    local = tmp_path / "a.bin"
    local.write_bytes(big_bytes(size))
    storage, _ = storage_via(**BIG)
    first = storage.upload(local, "s3://lake/archive/a.bin", overwrite=False)

    again = storage.upload(local, "s3://lake/archive/a.bin", overwrite=False)

    assert again.size == first.size == size
    assert bucket.stored("archive/") == {"a.bin": local.read_bytes()}
    local.write_bytes(big_bytes(size))  # other bytes, same size: an earlier file to keep
    with pytest.raises(FileExistsError):
        storage.upload(local, "s3://lake/archive/a.bin", overwrite=False)


def test_multipart_ranges_cover_objects_past_5_gib_within_10000_parts():
    from lakeroutine_s3.transfers import part_ranges

    GiB = 1024 * MiB
    for size, part in ((6 * GiB + 1, 256 * MiB), (5 * 1024 * GiB, 64 * MiB), (11 * MiB, 5 * MiB)):
        ranges = part_ranges(size, part)
        assert len(ranges) <= 10_000
        assert ranges[0][0] == 0 and ranges[-1][1] == size - 1
        assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ranges))
        assert all(end - start + 1 <= 5 * GiB for start, end in ranges)
        assert all(end - start + 1 >= 5 * MiB for start, end in ranges[:-1])
    assert len(part_ranges(6 * GiB + 1, 256 * MiB)) == 25  # past CopyObject's 5 GiB limit


def corrupting(request) -> bytes:
    """What a faulty network delivers: one byte of the payload changed on the way."""
    return request.body.replace(b"PAYLOAD", b"PAYLOAX")


@pytest.mark.parametrize("size", [70, 12 * MiB], ids=["put", "multipart"])
def test_an_upload_that_arrives_corrupted_is_not_taken_as_written(bucket, proxy, tmp_path, size):
    from lakeroutine.storage.base import StorageError
    from lakeroutine_s3.storage import S3Storage

    data = (b"PAYLOAD" * (size // 7 + 1))[:size]
    (tmp_path / "f").write_bytes(data)
    network = proxy(rewrite=corrupting)
    storage = S3Storage(endpoint_url=network.url, **BIG)

    with pytest.raises(StorageError, match="different bytes than were sent"):
        storage.upload(tmp_path / "f", "s3://lake/staging/f")
    # A multipart upload is aborted: no parts are left behind.
    assert bucket.client.list_multipart_uploads(Bucket="lake").get("Uploads", []) == []


def test_a_failed_multipart_upload_is_aborted(bucket, proxy, tmp_path):
    from lakeroutine.storage.base import StorageError
    from lakeroutine_s3.storage import S3Storage

    (tmp_path / "f").write_bytes(big_bytes(12 * MiB))
    failing = proxy(fault_rate=1.0, faults=("internal",), only=lambda op: op == "UploadPart")
    storage = S3Storage(endpoint_url=failing.url, max_attempts=2, **BIG)

    with pytest.raises(StorageError):
        storage.upload(tmp_path / "f", "s3://lake/staging/f")
    assert failing.count("AbortMultipartUpload") == 1
    assert bucket.client.list_multipart_uploads(Bucket="lake").get("Uploads", []) == []
    assert bucket.keys("staging/") == []


@pytest.mark.parametrize("size", [70, 12 * MiB], ids=["one-get", "ranged-gets"])
def test_a_download_that_arrives_corrupted_is_an_error(bucket, proxy, tmp_path, size):
    from lakeroutine_s3.storage import S3Storage

    bucket.fill(["landing/f"], (b"PAYLOAD" * (size // 7 + 1))[:size])

    def corrupt_reply(request, payload: bytes) -> bytes:
        return payload.replace(b"PAYLOAD", b"PAYLOAX", 1)  # one byte changed on the way

    network = proxy(rewrite_reply=corrupt_reply)
    storage = S3Storage(endpoint_url=network.url, **BIG)

    with pytest.raises(OSError, match="do not match its ETag"):
        storage.download("s3://lake/landing/f", tmp_path / "f")


def test_an_unevenly_uploaded_object_is_copied_in_its_own_parts_and_keeps_its_etag(
    bucket, storage_via
):
    data = big_bytes(12 * MiB)
    bucket.put_multipart("landing/uneven.bin", data, sizes=[5 * MiB, 6 * MiB, 1 * MiB])
    storage, counting = storage_via()
    source = next(storage.list_files("s3://lake/landing/"))

    written = storage.copy(source, "s3://lake/staging/uneven.bin")

    assert written.etag == source.etag  # so a later run knows this copy for what it is
    assert storage.stat("s3://lake/staging/uneven.bin").etag == source.etag
    assert counting.operations()["UploadPartCopy"] == 3
    assert bucket.stored("staging/")["uneven.bin"] == data
