"""The one mapping from a landing file's name to its staging name.

A name from a storage is data, not a path: a key like ``land/../../victim.txt`` or
``land//z.csv`` must never decide where a file is written. Every landing file goes through
:func:`target_name` before anything is written, moved or removed; a name it refuses is left
in landing and reported. Names it accepts are kept as they are, so distinct accepted names
map to distinct staging names (the mapping is the identity on what it accepts).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lakeroutine.storage.base import FileInfo


class RefusedName(ValueError):
    """A landing name that cannot be staged safely; the message says why."""


def _control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cs") or char in "\u2028\u2029"


def name_problem(relpath: str) -> str | None:
    """Why ``relpath`` (a POSIX name below a location) cannot name a staged file, or None.

    Refused: empty, absolute, ``.`` / ``..`` / empty segments, backslashes (a separator on
    some targets), control characters, and bytes that are not text (undecodable names show up
    as lone surrogates)."""
    if not relpath:
        return "the name is empty"
    if relpath.startswith("/"):
        return "the name is absolute (starts with '/')"
    if "\\" in relpath:
        return "the name holds a backslash"
    if any(_control(c) for c in relpath):
        if any(unicodedata.category(c) == "Cs" for c in relpath):
            return "the name holds bytes that are not valid UTF-8"
        return "the name holds a control character"
    for segment in relpath.split("/"):
        if segment == "":
            return "the name has an empty segment ('//' or a trailing '/')"
        if segment in (".", ".."):
            return f"the name has a {segment!r} segment"
    return None


def target_name(relpath: str, target_problem: str | None = None) -> str:
    """The staging name of landing file ``relpath``: the name itself once proven safe.

    ``target_problem`` is what the target storage said about the name (too long...)."""
    problem = name_problem(relpath) or target_problem
    if problem:
        raise RefusedName(problem)
    return relpath


def shown(relpath: str) -> str:
    """A name as it can be printed on one line: undecodable bytes shown as ``\\xff``,
    control characters as ``\\n``."""
    text = relpath.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c.encode("unicode_escape").decode("ascii") if _control(c) else c for c in text)


@dataclass(frozen=True)
class Refused:
    """A landing file left in place, and why."""

    info: FileInfo
    reason: str


def split_object_prefixes(files: Iterable[FileInfo]) -> Iterator[FileInfo | Refused]:
    """Pass files through, refusing any whose name is also a folder prefix of another
    (``a`` beside ``a/b``: possible on object stores, impossible to mirror on a filesystem).

    Needs the listing in ascending name order, as object stores list. A file is held back
    only while a later name could still start with ``name + "/"``: the names between ``a``
    and ``a/`` all start with ``a`` (``a.csv``, ``a-1``), so the stack of held names stays
    as short as the deepest chain of names that are prefixes of each other."""
    held: list[tuple[FileInfo, bool]] = []
    for info in files:
        name = info.relpath
        while held and not name.startswith(held[-1][0].relpath):
            yield _released(*held.pop())
        for index, (earlier, _) in enumerate(held):
            if name.startswith(earlier.relpath + "/"):
                held[index] = (earlier, True)
        held.append((info, False))
    while held:
        yield _released(*held.pop())


def _released(info: FileInfo, is_prefix: bool) -> FileInfo | Refused:
    if is_prefix:
        return Refused(info, "the name is both a file and a folder prefix of other files")
    return info
