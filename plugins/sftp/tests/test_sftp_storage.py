"""SftpStorage against asyncssh's SFTP server and a real OpenSSH sshd on loopback: every
operation the StagingExecutor uses, with what SFTP allows (O_EXCL temporaries, renames that
refuse to overwrite, claims by rename, copy-data)."""

from __future__ import annotations

import hashlib
import os

import pytest
from lakeroutine.storage.base import StorageError

MiB = 1024 * 1024


@pytest.fixture
def storage(sftp_server):
    from lakeroutine_sftp.storage import SftpStorage

    return SftpStorage(**sftp_server.options())


def test_listing_skips_temporaries_and_marks_links(sftp_server, storage):
    for rel in ["l/z", "l/a/b", "l/a.b", "l/.x.tok.lakeroutine-tmp", "l/.y.lakeroutine-tmp-claim"]:
        sftp_server.write(rel, "abc")
    os.symlink(sftp_server.root / "l/z", sftp_server.root / "l/link")
    listed = {f.relpath: f for f in storage.list_files(sftp_server.url("l"))}
    assert sorted(listed) == ["a.b", "a/b", "link", "z"]
    z = listed["z"]
    assert z.url == sftp_server.url("l/z") and z.size == 3 and not z.is_link
    assert z.version == f"3:{int((sftp_server.root / 'l/z').stat().st_mtime)}"
    assert listed["link"].is_link


def test_upload_download(sftp_server, storage, tmp_path):
    for name, size in (("small", 1000), ("big", 5 * MiB + 17)):
        data = os.urandom(size)
        (tmp_path / name).write_bytes(data)
        written = storage.upload(tmp_path / name, sftp_server.url(f"up/{name}"), expected_size=size)
        assert written.size == size and written.etag == hashlib.md5(data).hexdigest()
        assert sftp_server.files("up")[name] == data
        storage.download(sftp_server.url(f"up/{name}"), tmp_path / f"{name}.back")
        assert (tmp_path / f"{name}.back").read_bytes() == data
    assert sorted(os.listdir(sftp_server.root / "up")) == ["big", "small"]  # no temporaries


def test_a_source_that_grew_is_refused_and_nothing_published(sftp_server, storage, tmp_path):
    (tmp_path / "f").write_bytes(os.urandom(1010))
    with pytest.raises(StorageError, match="nothing published"):
        storage.upload(tmp_path / "f", sftp_server.url("up/f"), expected_size=1000)
    assert os.listdir(sftp_server.root / "up") == []


def test_create_only_upload(sftp_server, storage, tmp_path):
    sftp_server.write("arch/a", "earlier")
    (tmp_path / "a").write_bytes(b"new bytes")
    with pytest.raises(FileExistsError):
        storage.upload(tmp_path / "a", sftp_server.url("arch/a"), overwrite=False)
    storage.upload(tmp_path / "a", sftp_server.url("arch/b"), overwrite=False)
    storage.upload(tmp_path / "a", sftp_server.url("arch/b"), overwrite=False)  # same bytes
    assert sftp_server.files("arch") == {"a": b"earlier", "b": b"new bytes"}


def test_copy_on_the_server_pinned_to_the_listed_version(sftp_server, storage):
    sftp_server.write("l/a", "one")
    listed = next(iter(storage.list_files(sftp_server.url("l"))))
    copied = storage.copy(listed, sftp_server.url("s/a"))
    assert copied.size == 3 and sftp_server.files("s") == {"a": b"one"}
    sftp_server.write("l/a", "replaced")  # another size: a new version
    with pytest.raises(StorageError, match="changed since it was listed"):
        storage.copy(listed, sftp_server.url("s/b"))
    sftp_server.write("arch/a", "earlier")
    listed = next(iter(storage.list_files(sftp_server.url("l"))))
    with pytest.raises(FileExistsError):
        storage.copy(listed, sftp_server.url("arch/a"), overwrite=False)
    assert sftp_server.files("s") == {"a": b"one"}
    assert sftp_server.files("arch") == {"a": b"earlier"}


def test_claim_and_remove_claimed_take_only_the_version_staged(sftp_server, storage):
    for name in "abcde":
        sftp_server.write(f"l/{name}", name)
    listed = sorted(storage.list_files(sftp_server.url("l")), key=lambda f: f.relpath)
    sftp_server.write("l/b", "replaced after staging")  # another size: another version
    (sftp_server.root / "l/c").unlink()
    claims = storage.claim(listed)
    assert [c.relpath if c else None for c in claims] == ["a", None, None, "d", "e"]
    assert claims[0].url == sftp_server.url("l/.a.lakeroutine-tmp-claim")
    assert sftp_server.files("l") == {
        ".a.lakeroutine-tmp-claim": b"a",
        "b": b"replaced after staging",  # put back
        ".d.lakeroutine-tmp-claim": b"d",
        ".e.lakeroutine-tmp-claim": b"e",
    }
    # A claim found again (after a kill) is that version; one given back returns to its name.
    assert storage.claimed(listed[0]).version == listed[0].version
    assert storage.claimed(listed[1]) is None
    storage.release([claims[4]])
    sftp_server.write("l/.d.lakeroutine-tmp-claim", "d rewritten in place")
    left = storage.remove_claimed([claims[0], claims[3]])
    assert [f.relpath for f in left] == ["d"]  # changed: put back, not removed
    assert sftp_server.files("l") == {
        "b": b"replaced after staging",
        "d": b"d rewritten in place",
        "e": b"e",
    }


def test_a_claim_never_goes_back_over_a_newer_file(sftp_server, storage):
    sftp_server.write("l/a", "a")
    [listed] = storage.list_files(sftp_server.url("l"))
    [held] = storage.claim([listed])
    sftp_server.write("l/a", "a newer file")
    storage.release([held])
    files = sftp_server.files("l")
    assert files.pop("a") == b"a newer file"
    [(kept, body)] = files.items()
    assert kept.startswith("a.lakeroutine-kept-") and body == b"a"


def test_a_folder_is_listed_in_chunks_whole(sftp_server):
    from lakeroutine_sftp.storage import SftpStorage

    storage = SftpStorage(**sftp_server.options(list_chunk=7))  # many chunks of one folder
    names = {f"f{i:03}" for i in range(40)}
    for name in names:
        sftp_server.write(f"l/{name}", name)
    sftp_server.write("l/sub/x", "x")
    listed = [f.relpath for f in storage.list_files(sftp_server.url("l"))]
    assert sorted(listed) == sorted([*names, "sub/x"])  # each once


def test_delete_many_and_stat(sftp_server, storage):
    sftp_server.write("d/a", "a")
    assert storage.stat(sftp_server.url("d/a")).size == 1
    assert storage.stat(sftp_server.url("d/missing")) is None
    storage.delete_many([sftp_server.url("d/a"), sftp_server.url("d/missing")])
    assert sftp_server.files("d") == {}


def test_canonical_and_name_problems():
    from lakeroutine_sftp.storage import SftpStorage

    storage = SftpStorage(sftp={"username": "me"})
    assert storage.canonical("sftp://Host/x/../y") == "sftp://me@host:22/y/"
    assert storage.canonical("sftp://me@host:22/y/") == "sftp://me@host:22/y/"
    assert storage.name_problem("sftp://h/x", "a/b.csv") is None
    assert "255" in storage.name_problem("sftp://h/x", "a" * 300)


def test_check_location(sftp_server, storage):
    sftp_server.write("l/a", "a")
    storage.check_location(sftp_server.url("l"), write=False)
    storage.check_location(sftp_server.url("new/deeper"), write=True)
    with pytest.raises(StorageError, match="does not exist"):
        storage.check_location(sftp_server.url("missing"), write=False)


def test_files_moved_one_after_another_take_the_sftp_sessions_in_turn(asyncssh_server):
    """OpenSSH serves one session's requests one at a time (an fsync holds up the rest), so
    the storage opens ``channels`` sessions on its connection and hands them out in turn."""
    from lakeroutine_sftp.storage import SftpStorage

    storage = SftpStorage(**asyncssh_server.options(channels=3))
    for number in range(6):
        asyncssh_server.write(f"l/f{number}", b"x" * number)
    for listed in list(storage.list_files(asyncssh_server.url("l"))):
        storage.copy(listed, asyncssh_server.url(f"s/{listed.relpath}"))
    assert len(asyncssh_server.opening) == 3
    assert asyncssh_server.files("s") == {f"f{n}": b"x" * n for n in range(6)}


def test_a_server_allowing_fewer_sessions_is_used_with_those_it_allows(tmp_path):
    """OpenSSH refuses sessions past ``MaxSessions``: the storage keeps those it got."""
    from lakeroutine_sftp.storage import SftpStorage
    from sftp_servers import remove, sshd_available, start_openssh

    if sshd_available():
        pytest.skip(sshd_available() or "")
    (tmp_path / "server").mkdir()
    server = start_openssh(tmp_path / "server", max_sessions=2)
    try:
        storage = SftpStorage(**server.options(channels=8))
        for number in range(4):
            server.write(f"l/f{number}", b"y" * number)
        for listed in list(storage.list_files(server.url("l"))):
            storage.copy(listed, server.url(f"s/{listed.relpath}"), overwrite=False)
        held = storage.claim(list(storage.list_files(server.url("l"))))
        assert storage.remove_claimed([h for h in held if h]) == []
        assert server.files("s") == {f"f{n}": b"y" * n for n in range(4)}
        assert server.files("l") == {}
    finally:
        remove(server, tmp_path / "server")
