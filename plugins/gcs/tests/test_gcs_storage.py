"""GcsStorage against fake-gcs-server on loopback: every operation the StagingExecutor uses,
with GCS's own guarantees (what the emulator ignores is enforced by the test proxy)."""

from __future__ import annotations

import os

import pytest
from lakeroutine.storage.base import StorageError

MiB = 1024 * 1024


@pytest.fixture
def storage(gcs_bucket):
    from lakeroutine_gcs.storage import GcsStorage

    return GcsStorage()


def test_listing_is_streamed_in_key_order_with_generations(gcs_bucket, storage):
    for key in ["l/z", "l/a-b", "l/a/b", "l/é", "l/a.b", "l/.x.tok.lakeroutine-tmp", "other"]:
        gcs_bucket.put(key, "abc")
    listed = list(storage.list_files("gs://lake/l/"))
    assert [f.relpath for f in listed] == ["a-b", "a.b", "a/b", "z", "é"]  # UTF-8 byte order
    first = listed[0]
    assert first.url == "gs://lake/l/a-b" and first.size == 3
    assert first.etag == "900150983cd24fb0d6963f7d28e17f72"  # MD5 of "abc"
    assert first.version == str(gcs_bucket.bucket.get_blob("l/a-b").generation)


def test_listing_pages(gcs_bucket):
    from lakeroutine_gcs.storage import GcsStorage

    keys = [f"p/{i:05}" for i in range(230)]
    for key in keys:
        gcs_bucket.bucket.blob(key).upload_from_string(b"")
    storage = GcsStorage(gs={"list_page_size": 100})  # three pages
    assert [f.relpath for f in storage.list_files("gs://lake/p")] == [k[2:] for k in keys]


def test_upload_download_small_and_chunked(gcs_bucket, tmp_path):
    from lakeroutine_gcs.storage import GcsStorage

    storage = GcsStorage(
        gs={"multipart_threshold": MiB, "chunk_size": 256 * 1024, "download_chunk_size": MiB}
    )
    for name, size in (("small", 1000), ("big", 9 * MiB + 17)):
        data = os.urandom(size)
        source = tmp_path / name
        source.write_bytes(data)
        written = storage.upload(source, f"gs://lake/up/{name}", expected_size=size)
        assert written.size == size and written.version
        assert gcs_bucket.objects("up/")[name] == data
        back = tmp_path / f"{name}.back"
        storage.download(f"gs://lake/up/{name}", back)
        assert back.read_bytes() == data


@pytest.mark.parametrize("size", [1000, 9 * MiB])
def test_a_source_that_grew_is_refused_and_nothing_published(gcs_bucket, tmp_path, size):
    from lakeroutine_gcs.storage import GcsStorage

    storage = GcsStorage(gs={"multipart_threshold": MiB, "chunk_size": 256 * 1024})
    source = tmp_path / "f"
    source.write_bytes(os.urandom(size + 10))
    with pytest.raises(StorageError, match="nothing published"):
        storage.upload(source, "gs://lake/grown", expected_size=size)
    assert gcs_bucket.keys() == []


@pytest.mark.parametrize("size", [1000, 9 * MiB])
def test_create_only_upload(gcs_bucket, gcs_via, tmp_path, size):
    from lakeroutine_gcs.storage import GcsStorage

    proxy = gcs_via()  # resumable uploads' ifGenerationMatch is enforced here
    storage = GcsStorage(gs={"multipart_threshold": MiB, "chunk_size": 256 * 1024})
    gcs_bucket.put("arch/a", b"earlier")
    source = tmp_path / "a"
    source.write_bytes(os.urandom(size))
    with pytest.raises(FileExistsError):
        storage.upload(source, "gs://lake/arch/a", overwrite=False)
    assert gcs_bucket.objects("arch/") == {"a": b"earlier"}
    first = storage.upload(source, "gs://lake/arch/b", overwrite=False)
    again = storage.upload(source, "gs://lake/arch/b", overwrite=False)  # same bytes: fine
    assert again.version == first.version
    if size > 8 * MiB:  # resumable: fake-gcs-server ignores the condition, the proxy does not
        assert "resumable_start" in proxy.enforcer.enforced


def test_copy_is_a_rewrite_pinned_to_the_listed_generation(gcs_bucket, gcs_via, storage):
    proxy = gcs_via()
    gcs_bucket.put("l/a", b"one")
    listed = next(iter(storage.list_files("gs://lake/l/")))
    copied = storage.copy(listed, "gs://lake/s/a")
    assert copied.etag == listed.etag and proxy.count("rewrite") == 1
    gcs_bucket.put("l/a", b"two")  # replaced after it was listed
    with pytest.raises(StorageError, match="changed since it was listed"):
        storage.copy(listed, "gs://lake/s/b")
    assert "b" not in gcs_bucket.objects("s/")
    assert proxy.enforcer.enforced == ["rewrite"]


def test_create_only_copy(gcs_bucket, gcs_via, storage):
    gcs_via()
    gcs_bucket.put("l/a", b"one")
    gcs_bucket.put("arch/a", b"earlier")
    listed = next(iter(storage.list_files("gs://lake/l/")))
    with pytest.raises(FileExistsError):
        storage.copy(listed, "gs://lake/arch/a", overwrite=False)
    storage.copy(listed, "gs://lake/arch/b", overwrite=False)
    storage.copy(listed, "gs://lake/arch/b", overwrite=False)  # the same bytes: done already
    assert gcs_bucket.objects("arch/") == {"a": b"earlier", "b": b"one"}


def test_remove_claimed_removes_only_the_generation_staged(gcs_bucket, gcs_via, storage):
    proxy = gcs_via()
    for name in "abc":
        gcs_bucket.put(f"l/{name}", name)
    listed = list(storage.list_files("gs://lake/l/"))
    assert storage.claim(listed) == listed
    gcs_bucket.put("l/b", "replaced after staging")
    gcs_bucket.bucket.blob("l/c").delete()  # gone already: fine
    left = storage.remove_claimed(listed)
    assert [f.relpath for f in left] == ["b"]
    assert gcs_bucket.objects("l/") == {"b": b"replaced after staging"}
    assert proxy.enforcer.enforced == ["delete"]
    assert storage.claimed(listed[0]) is None


def test_removals_go_in_batches_and_a_failed_batch_goes_one_by_one(gcs_bucket, gcs_via):
    """Deletes share batch requests (up to 100 a batch, 4 batches at once); a batch that
    fails as a whole (here: every batch request is answered with a fault) is sent again one
    delete at a time."""
    from lakeroutine_gcs.storage import GcsStorage

    for i in range(150):
        gcs_bucket.put(f"l/{i:03}", "x")
    proxy = gcs_via()
    storage = GcsStorage()
    listed = list(storage.list_files("gs://lake/l/"))
    assert storage.remove_claimed(listed[:120]) == []
    assert (proxy.count("batch"), proxy.count("delete")) == (4, 0)  # 4 at once, of 30
    faulty = gcs_via(fault_rate=1.0, only=lambda operation: operation == "batch")
    assert GcsStorage().remove_claimed(listed[120:]) == []
    assert faulty.count("batch") >= 1 and faulty.count("delete") == 30
    assert gcs_bucket.objects("l/") == {}


def test_delete_many_and_stat(gcs_bucket, storage):
    gcs_bucket.put("d/a", "a")
    assert storage.stat("gs://lake/d/a").size == 1
    assert storage.stat("gs://lake/d/missing") is None
    storage.delete_many(["gs://lake/d/a", "gs://lake/d/missing"])
    assert gcs_bucket.keys() == []


def test_canonical_and_name_problems():
    from lakeroutine_gcs.storage import GcsStorage

    storage = GcsStorage()
    assert storage.canonical("gs://b/x/y") == storage.canonical("gs://b/x/y/") == "gs://b/x/y/"
    assert storage.canonical("gs://b") == "gs://b/"
    assert storage.name_problem("gs://b/x/", "a/b.csv") is None
    assert "1024" in storage.name_problem("gs://b/x/", "é" * 600)


def test_check_location(gcs_bucket, storage):
    storage.check_location("gs://lake/l/", write=False)
    with pytest.raises(StorageError, match="bucket 'nope' does not exist"):
        storage.check_location("gs://nope/l/", write=False)


def test_gcs_errors_are_one_short_line(gcs_bucket):
    """google-api-core's errors carry the request and the JSON answer: cut to one line."""
    from lakeroutine.service_errors import service_error_text

    with pytest.raises(Exception) as caught:
        gcs_bucket.bucket.blob("no/such/blob.csv").download_as_bytes()
    text = service_error_text(caught.value)
    assert text.startswith("HTTP 404"), text
    assert "{" not in text and "\n" not in text and len(text) <= 250
