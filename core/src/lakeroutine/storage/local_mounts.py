"""Which kind of filesystem holds a local path (from the mount table), to tell a folder the
kernel serves at once (tmpfs, ext4, XFS, Btrfs...) from one whose every call waits on a
server (NFS, SMB, FUSE), where copying several files at once hides that wait."""

from __future__ import annotations

import os

MOUNTINFO = "/proc/self/mountinfo"
# Filesystems whose calls wait on another machine or process; FUSE types are "fuse.<name>".
NETWORK_TYPES = frozenset(
    {
        "9p",
        "afs",
        "beegfs",
        "ceph",
        "cifs",
        "davfs",
        "gfs2",
        "glusterfs",
        "gpfs",
        "lustre",
        "ncpfs",
        "nfs",
        "nfs4",
        "ocfs2",
        "smb3",
        "smbfs",
        "virtiofs",
    }
)


def filesystem_type(path: str, mountinfo: str = MOUNTINFO) -> str | None:
    """The type of the filesystem holding ``path`` (symbolic links resolved; a folder not
    made yet is on its parent's), or None where the mount table cannot be read (not Linux)."""
    existing = os.path.realpath(path)
    try:
        with open(mountinfo, encoding="utf-8", errors="surrogateescape") as table:
            lines = table.read().splitlines()
    except OSError:
        return None
    found, longest = None, -1
    for line in lines:
        fields, _, rest = line.partition(" - ")
        parts = fields.split()
        if len(parts) < 5 or not rest:
            continue
        point = _unescape(parts[4])
        inside = existing == point or existing.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= longest:  # the last mount on a point hides earlier ones
            found, longest = rest.split()[0], len(point)
    return found


def waits_on_io(path: str) -> bool:
    """Whether calls on ``path`` wait on a server (a network or FUSE filesystem, or one we
    cannot tell): there, several copies at once overlap their waits; elsewhere the kernel
    copies a file without waiting and more threads only contend for the interpreter."""
    kind = filesystem_type(path)
    return kind is None or kind in NETWORK_TYPES or kind.startswith("fuse")


def _unescape(field: str) -> str:
    """A mountinfo path field with its octal escapes (``\\040`` for a space) decoded."""
    if "\\" not in field:
        return field
    raw = field.encode("utf-8", "surrogateescape")
    out = bytearray()
    index = 0
    while index < len(raw):
        if raw[index : index + 1] == b"\\" and raw[index + 1 : index + 4].isdigit():
            out.append(int(raw[index + 1 : index + 4], 8))
            index += 4
        else:
            out.append(raw[index])
            index += 1
    return out.decode("utf-8", "surrogateescape")
