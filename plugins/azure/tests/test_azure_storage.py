"""AzureStorage against Azurite on loopback: every operation the StagingExecutor uses, with
Azure's own guarantees (create-only commits, If-Match deletes in Blob Batch, pinned copies)."""

from __future__ import annotations

import hashlib
import os

import pytest
from lakeroutine.storage.base import StorageError

MiB = 1024 * 1024
SMALL_BLOCKS = {"max_single_put_size": MiB, "max_block_size": 256 * 1024}


@pytest.fixture
def storage(container):
    from lakeroutine_azure.storage import AzureStorage

    return AzureStorage()


def test_listing_is_streamed_in_key_order_with_etags(container, storage):
    for key in ["l/z", "l/a-b", "l/a/b", "l/a.b", "l/.x.tok.lakeroutine-tmp", "other"]:
        container.put(key, "abc")
    listed = list(storage.list_files("az://lake/l/"))
    assert [f.relpath for f in listed] == ["a-b", "a.b", "a/b", "z"]
    first = listed[0]
    assert first.url == "az://lake/l/a-b" and first.size == 3
    assert first.etag == hashlib.md5(b"abc").hexdigest()
    assert first.version == container.client.get_blob_client(
        "l/a-b"
    ).get_blob_properties().etag.strip('"')


def test_listing_pages(container):
    from concurrent.futures import ThreadPoolExecutor

    from lakeroutine_azure.storage import AzureStorage

    keys = [f"p/{i:05}" for i in range(230)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: container.put(k, b""), keys))
    storage = AzureStorage(az={"list_page_size": 100})  # three pages
    assert [f.relpath for f in storage.list_files("az://lake/p")] == [k[2:] for k in keys]


def test_upload_download_single_and_blocks(container, tmp_path, az_via):
    from lakeroutine_azure.storage import AzureStorage

    proxy = az_via()
    storage = AzureStorage(az=SMALL_BLOCKS)
    for name, size in (("small", 1000), ("big", 3 * MiB + 17)):
        data = os.urandom(size)
        source = tmp_path / name
        source.write_bytes(data)
        written = storage.upload(source, f"az://lake/up/{name}", expected_size=size)
        assert written.size == size and written.version
        assert written.etag == hashlib.md5(data).hexdigest()
        assert container.objects("up/")[name] == data
        back = tmp_path / f"{name}.back"
        storage.download(f"az://lake/up/{name}", back)
        assert back.read_bytes() == data
    assert proxy.count("put_block") == 13 and proxy.count("commit") == 1


@pytest.mark.parametrize("size", [1000, 3 * MiB])
def test_a_source_that_grew_is_refused_and_nothing_published(container, tmp_path, size):
    from lakeroutine_azure.storage import AzureStorage

    storage = AzureStorage(az=SMALL_BLOCKS)
    source = tmp_path / "f"
    source.write_bytes(os.urandom(size + 10))
    with pytest.raises(StorageError, match="nothing published"):
        storage.upload(source, "az://lake/grown", expected_size=size)
    assert container.keys() == []


@pytest.mark.parametrize("size", [1000, 3 * MiB])
def test_create_only_upload(container, tmp_path, size):
    from lakeroutine_azure.storage import AzureStorage

    storage = AzureStorage(az=SMALL_BLOCKS)
    container.put("arch/a", b"earlier")
    source = tmp_path / "a"
    source.write_bytes(os.urandom(size))
    with pytest.raises(FileExistsError):
        storage.upload(source, "az://lake/arch/a", overwrite=False)
    assert container.objects("arch/") == {"a": b"earlier"}
    first = storage.upload(source, "az://lake/arch/b", overwrite=False)
    again = storage.upload(source, "az://lake/arch/b", overwrite=False)  # same bytes: fine
    assert again.version == first.version


def test_copy_is_server_side_and_pinned_to_the_listed_version(container, az_via, storage):
    proxy = az_via()
    container.put("l/a", b"one")
    listed = next(iter(storage.list_files("az://lake/l/")))
    copied = storage.copy(listed, "az://lake/s/a")
    assert copied.etag == listed.etag and proxy.count("copy") == 1
    container.put("l/a", b"two")  # replaced after it was listed
    with pytest.raises(StorageError, match="changed since it was listed"):
        storage.copy(listed, "az://lake/s/b")
    assert "b" not in container.objects("s/")


def test_create_only_copy(container, storage):
    container.put("l/a", b"one")
    container.put("arch/a", b"earlier")
    listed = next(iter(storage.list_files("az://lake/l/")))
    with pytest.raises(FileExistsError):
        storage.copy(listed, "az://lake/arch/a", overwrite=False)
    storage.copy(listed, "az://lake/arch/b", overwrite=False)
    storage.copy(listed, "az://lake/arch/b", overwrite=False)  # the same bytes: done already
    assert container.objects("arch/") == {"a": b"earlier", "b": b"one"}


def test_remove_claimed_removes_only_the_version_staged_in_one_batch(container, az_via, storage):
    proxy = az_via()
    for name in "abc":
        container.put(f"l/{name}", name)
    listed = list(storage.list_files("az://lake/l/"))
    assert storage.claim(listed) == listed
    container.put("l/b", "replaced after staging")
    container.client.delete_blob("l/c")  # gone already: fine
    left = storage.remove_claimed(listed)
    assert [f.relpath for f in left] == ["b"]
    assert container.objects("l/") == {"b": b"replaced after staging"}
    assert proxy.count("batch") == 1 and proxy.count("delete") == 0
    assert storage.claimed(listed[0]) is None


def test_delete_many_and_stat(container, storage):
    container.put("d/a", "a")
    assert storage.stat("az://lake/d/a").size == 1
    assert storage.stat("az://lake/d/missing") is None
    storage.delete_many(["az://lake/d/a", "az://lake/d/missing"])
    assert container.keys() == []


def test_canonical_and_name_problems():
    from lakeroutine_azure.storage import AzureStorage

    storage = AzureStorage()
    assert storage.canonical("az://c/x/y") == storage.canonical("az://c/x/y/") == "az://c/x/y/"
    assert storage.name_problem("az://c/x/", "a/b.csv") is None
    assert "1024" in storage.name_problem("az://c/x/", "a" * 1100)
    assert "ends with '.'" in storage.name_problem("az://c/x/", "a/b.")
    assert storage.name_problem("az://c/x/", "a./b") is None


def test_check_location(container, storage):
    storage.check_location("az://lake/l/", write=False)
    with pytest.raises(StorageError, match="container 'nope' does not exist"):
        storage.check_location("az://nope/l/", write=False)


def test_azure_errors_are_one_short_line(container):
    """Azure's errors carry the whole XML answer and a RequestId trailer: cut to one line."""
    from lakeroutine.service_errors import service_error_text

    with pytest.raises(Exception) as caught:
        container.client.download_blob("no/such/blob.csv").readall()
    assert "<?xml" in str(caught.value) or "RequestId" in str(caught.value)
    text = service_error_text(caught.value)
    assert text.startswith("HTTP 404 BlobNotFound: The specified blob does not exist"), text
    assert "<" not in text and "RequestId" not in text and "\n" not in text
