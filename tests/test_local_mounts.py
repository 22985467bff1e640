"""Telling a local folder the kernel serves at once from one on a network or FUSE mount."""

from __future__ import annotations

import pytest
from lakeroutine.storage.local import LocalStorage
from lakeroutine.storage.local_mounts import filesystem_type, waits_on_io

TABLE = (
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "30 22 0:26 / /dev/shm rw shared:2 - tmpfs tmpfs rw\n"
    "40 22 0:50 / /mnt/lake rw shared:3 - nfs4 server:/lake rw\n"
    "41 40 0:51 / /mnt/lake/local rw shared:4 - xfs /dev/sdb1 rw\n"
    "42 22 0:52 / /mnt/my\\040drive rw shared:5 - fuse.sshfs host:/ rw\n"
    "43 22 0:53 / /mnt/lakehouse rw shared:6 - ext4 /dev/sdc1 rw\n"
    "44 22 0:54 / /dev/shm rw shared:7 - nfs server:/shm rw\n"
)


@pytest.fixture
def mountinfo(tmp_path):
    path = tmp_path / "mountinfo"
    path.write_text(TABLE)
    return str(path)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/", "ext4"),
        ("/srv/data/x.csv", "ext4"),
        ("/mnt/lake/landing", "nfs4"),
        ("/mnt/lake/local/landing", "xfs"),  # a mount inside another
        ("/mnt/lakehouse/landing", "ext4"),  # a prefix of the text, not of the path
        ("/mnt/my drive/landing", "fuse.sshfs"),  # the table escapes the space
        ("/dev/shm/landing", "nfs"),  # a later mount on the same point hides the earlier
    ],
)
def test_the_filesystem_of_a_path_is_its_deepest_latest_mount(mountinfo, path, kind):
    assert filesystem_type(path, mountinfo) == kind


def test_no_mount_table_is_no_answer(tmp_path):
    assert filesystem_type("/", str(tmp_path / "missing")) is None


def test_this_machines_temporary_folder_is_served_without_waiting(tmp_path):
    """The real mount table: pytest's temporary folder is on a local disk or tmpfs here
    (a network mount would make the staging threads worth having)."""
    kind = filesystem_type(str(tmp_path))
    assert kind is not None and not kind.startswith("fuse")
    assert not waits_on_io(str(tmp_path / "not" / "made" / "yet"))
    assert not LocalStorage().waits_on_io(f"file://{tmp_path}/")
