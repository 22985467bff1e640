"""The storage conformance kit: what every storage must keep under hostile input, run by
each storage plugin against its own emulator in a few lines.

A backend gives the kit :class:`Place` objects (a folder tree on its emulator that the kit
may write into with any name, read back whole, and spell in every alias the backend has);
a test module subclasses :class:`StorageConformance` and provides two fixtures,
``landing_place`` and ``staging_place`` (the same place, or two backends for a mixed route)::

    from lakeroutine.testing.conformance.storage import StorageConformance

    class TestMyStorage(StorageConformance):
        @pytest.fixture
        def landing_place(self, my_emulator):
            return MyPlace(my_emulator)

        staging_place = landing_place

Every case runs a real routine (``run_routine``, or ``lakeroutine run`` in a subprocess for
kills) and checks the promise: every landing file ends staged exactly once under its own
name, or is left in landing untouched and named; nothing is written outside landing,
staging and the archive; no secret is shown. Each case counts what it tried (names, aliases,
faults, kills) in :data:`TALLY`, and appends it to the JSON-lines file named by
``LAKEROUTINE_KIT_TALLY`` if set (``python -m lakeroutine.testing.conformance.tally FILE``
prints the table the README shows).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lakeroutine.errors import RoutineError

LANDING, STAGING, ARCHIVE = "landing", "staging", "landing_archive"
NFC_NAME = unicodedata.normalize("NFC", "caf\u00e9.csv")
NFD_NAME = unicodedata.normalize("NFD", "caf\u00e9.csv")
LONG_SEGMENT = "l" * 300 + ".csv"  # over a filesystem's 255 bytes, within S3's 1,024

# Safe names: each must be staged under exactly this name (never decoded, never merged).
LITERAL = [
    "%2E%2E%2Fescaped.csv",
    "sub/%2E%2E%2F%2E%2E%2Fvictim.csv",
    "%41.csv",
    "A.csv",
    "a.csv",
    NFC_NAME,
    NFD_NAME,
    "%2Fslash.csv",
    "%.csv",
    "%%41%zz.csv",
    "q?x=1#frag.csv",
    "semi;colon@at:colon.csv",
    "sp ace & plus+.csv",
    "~tilde.csv",
    "k2/inner.csv",
]
# Unsafe names: each must be refused, named, and left in landing (where the backend can
# hold it at all: a filesystem cannot hold ``a//b`` or ``..`` literally).
REFUSED = [
    "../escaped.csv",
    "sub/../../victim.csv",
    "./dot.csv",
    "a//b.csv",
    "/absolute.csv",
    "back\\slash.csv",
    "ctl\x01.csv",
    "new\nline.csv",
    b"bad\xff.csv",
    "k",  # also the prefix of k/inner.csv
]
PREFIX_CHILD = "k/inner.csv"  # staged: a file below a name that is also a file
# Staged literally where the staging storage can hold it, else refused and left.
EITHER = [LONG_SEGMENT, "deep/" * 40 + "end.csv"]
# Files outside landing, staging and archive that a traversal would read, delete or write.
SENTINELS = {"victim.csv": b"precious, outside landing", "A.csv": b"outside A"}

TALLY: dict[str, Counter[str]] = {}


def text_name(name: str | bytes) -> str:
    """A name as listings give it: undecodable bytes as lone surrogates."""
    return name if isinstance(name, str) else os.fsdecode(name)


def count(label: str, **amounts: int) -> None:
    """Add what a passed case tried to the tally of ``label`` (a storage or route)."""
    amounts = {"cases": 1, **amounts}
    tally = TALLY.setdefault(label, Counter())
    tally.update(amounts)
    target = os.environ.get("LAKEROUTINE_KIT_TALLY")
    if target:
        line = json.dumps({"label": label, **amounts}) + "\n"
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


class Place:
    """A folder tree on one backend that the kit may fill with any names (override all
    but the optional ones). Folders are POSIX names below the place's root."""

    label = "storage"
    scheme = "file"
    secrets: tuple[str, ...] = ()  # values that must never be shown

    def url(self, folder: str) -> str:
        """The location URL of ``folder`` (ending in ``/``)."""
        raise NotImplementedError

    def put(self, folder: str, name: str | bytes, body: bytes) -> bool:
        """Write ``body`` at exactly ``folder/name``, bypassing lakeroutine; False if the
        backend cannot hold that name literally (a filesystem and ``a//b``)."""
        raise NotImplementedError

    def files(self, folder: str) -> dict[str, bytes]:
        """Every file below ``folder`` (names as listings give them), temporaries too."""
        raise NotImplementedError

    def everything(self) -> dict[str, bytes]:
        """Every file below the place's root, by name relative to it."""
        raise NotImplementedError

    def names(self, folder: str) -> list[str]:
        """The names of the files below ``folder`` (a cheap listing: kills poll it)."""
        return list(self.files(folder))

    def options(self) -> dict[str, Any]:
        """``storage_options`` a routine needs for this place."""
        return {}

    # -- optional: aliases and faults ----------------------------------------------------------

    def aliases(self, folder: str) -> list[str]:
        """Other spellings of ``url(folder)`` the backend reads as the same location
        (scheme aliases, host spellings, trailing slashes, symbolic links it made)."""
        return []

    def root_url(self) -> str | None:
        """The URL of the bucket, container or server root holding the place, if any."""
        return None

    def make_unreadable(self, folder: str, name: str) -> bool:
        """Make one file unreadable to the storage's login; False if the backend cannot."""
        return False

    def run_as(self) -> tuple[int, int] | None:
        """The login (uid, gid) a run must use to be refused what :meth:`make_unreadable`
        made unreadable (tests running as root read every file); None: this process's."""
        return None

    def share_with(self, login: tuple[int, int]) -> None:
        """Let ``login`` (uid, gid) read what a run needs to reach this place (a key file,
        known hosts), when the other place of the route makes the run use that login."""

    def put_without_hash(self, folder: str, name: str, body: bytes) -> bool:
        """Write a file that has no content hash (no Content-MD5, a multipart ETag);
        False if every file of the backend has one."""
        return False

    def identity(self, folder: str, name: str) -> Any:
        """What names the stored content of ``folder/name`` (a filesystem's device and
        inode), so two names sharing it can be seen; None where the backend cannot tell."""
        return None


def merged_options(*places: Place) -> dict[str, Any]:
    """The storage options of every place of a route, in one dict."""
    options: dict[str, Any] = {}
    for place in places:
        for key, value in place.options().items():
            if isinstance(value, dict):
                options[key] = {**options.get(key, {}), **value}
            else:
                options[key] = value
    return options


class StorageConformance:
    """The cases every storage passes. Subclass it in a test module and provide the
    ``landing_place`` and ``staging_place`` fixtures (each a :class:`Place`)."""

    kill_files = 60  # files landed for the kill-mid-archive case
    plugins: tuple[Any, ...] = ()  # plugin objects registered in code (beside entry points)

    # -- plumbing ------------------------------------------------------------------------------

    @pytest.fixture
    def route(self, landing_place: Place, staging_place: Place) -> tuple[Place, Place]:
        return landing_place, staging_place

    @pytest.fixture
    def shared_tmp_path(self) -> Any:
        """A temporary folder any login may reach (pytest's ``tmp_path`` is private to
        this one): a local place there hands an unprivileged login its files. Removed
        after."""
        import shutil
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="lakeroutine-kit-"))
        folder.chmod(0o755)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def label(route: tuple[Place, Place]) -> str:
        landing, staging = route
        same = landing.label == staging.label
        return landing.label if same else f"{landing.label} -> {staging.label}"

    @staticmethod
    def routine(
        route: tuple[Place, Place], tmp_path: Path, tasks: list[str] | None = None, **params: Any
    ) -> Path:
        landing, staging = route
        spec = {
            "routine_name": "conformance",
            "state_dir": str(tmp_path / "state"),
            "executors": {
                "StagingExecutor": {
                    "params": {
                        "parent_directory": landing.url(LANDING),
                        "dump_directory": staging.url(STAGING),
                        "storage_options": merged_options(landing, staging),
                        **params,
                    },
                    "tasks": tasks or ["transfer", "post_staging"],
                }
            },
        }
        path = tmp_path / "routine.json"
        path.write_text(json.dumps(spec))
        return path

    def run(self, path: Path, **kwargs: Any) -> Any:
        from lakeroutine.orchestrator import run_routine
        from lakeroutine.plugins import load_plugins

        return run_routine(path, registry=load_plugins(plugins=list(self.plugins)), **kwargs)

    @staticmethod
    def outside(route: tuple[Place, Place]) -> dict[str, dict[str, bytes]]:
        """Every file of the route's places outside landing, staging and the archive."""
        found = {}
        for place in route:
            found[place.label + ":" + place.url("")] = {
                name: body
                for name, body in place.everything().items()
                if not name.startswith((f"{LANDING}/", f"{STAGING}/", f"{ARCHIVE}/"))
            }
        return found

    @staticmethod
    def assert_no_secret(route: tuple[Place, Place], *texts: str, state: Path | None = None) -> int:
        secrets = [s for place in route for s in place.secrets if s]
        shown = "\n".join(texts)
        if state is not None and state.exists():
            shown += "".join(
                p.read_bytes().decode("utf-8", "replace") for p in state.rglob("*") if p.is_file()
            )
        for secret in secrets:
            assert secret not in shown, "a secret was shown"
        return len(secrets)

    # -- hostile names -------------------------------------------------------------------------

    @pytest.mark.parametrize("mode", ["delete", "archive"])
    def test_hostile_names_are_staged_literally_or_refused_and_left(
        self, route: tuple[Place, Place], tmp_path: Path, caplog: Any, mode: str
    ) -> None:
        """Every name class: ``%XX`` escapes, ``..``, ``.``, ``//``, absolute, backslash,
        control and undecodable bytes, case and Unicode-normalisation twins, an object that
        is also a prefix, overlong names. Safe names are staged under exactly their name
        (never decoded into another, never confused with a twin); unsafe ones are refused,
        named and left; nothing outside the three locations is read, changed or removed."""
        landing, staging = route
        for place in {id(p): p for p in route}.values():
            for name, body in SENTINELS.items():
                assert place.put("", name, body)
        dropped: dict[str, bytes] = {}
        for number, name in enumerate([*LITERAL, PREFIX_CHILD, *REFUSED, *EITHER]):
            body = f"{number}: {text_name(name)!r}".encode()
            if landing.put(LANDING, name, body):
                dropped[text_name(name)] = body
        for name in LITERAL:
            assert name in dropped, f"{landing.label} could not hold the safe name {name!r}"
        before = self.outside(route)
        caplog.set_level(logging.INFO, logger="lakeroutine")

        result = self.run(self.routine(route, tmp_path, archive_or_delete=mode))

        assert result.status == "succeeded", [t.to_dict() for t in result.tasks]
        transfer = result.tasks[0].output
        refused = {item["file"] for item in transfer.get("refused_files", [])}
        staged = staging.files(STAGING)
        left = landing.files(LANDING)
        archived = landing.files(ARCHIVE) if mode == "archive" else {}
        for name, body in dropped.items():
            if name in left:  # refused: left exactly as it was, named, not staged
                assert left[name] == body, f"{name!r} changed in landing"
                assert name not in staged, f"{name!r} staged and left"
            else:  # staged once, under its own name, with its own bytes
                assert staged.get(name) == body, f"{name!r} lost or staged with other bytes"
                if mode == "archive":
                    assert archived.get(name) == body, f"{name!r} not archived"
        from lakeroutine.staging.names import shown

        assert refused == {shown(n) for n in dropped if n in left}
        for name in [*LITERAL, PREFIX_CHILD]:
            if name in dropped:
                assert staged.get(name) == dropped[name], f"safe name {name!r} not staged"
        for name in map(text_name, REFUSED):
            if name in dropped:
                assert left.get(name) == dropped[name], f"unsafe name {name!r} not left"
        assert set(staged) == set(dropped) - set(left), "staging holds names not dropped"
        if mode == "archive":
            assert set(archived) == set(staged), "the archive holds other names"
        else:
            assert archived == {}
        assert self.outside(route) == before, "a file outside the three locations changed"
        secrets = self.assert_no_secret(
            route, caplog.text, json.dumps(result.to_dict()), state=tmp_path / "state"
        )
        count(self.label(route), names=len(dropped), runs=1, secrets_checked=secrets)

    # -- overlap through aliases ---------------------------------------------------------------

    def test_overlap_through_every_alias_is_refused_before_anything_moves(
        self, route: tuple[Place, Place], tmp_path: Path
    ) -> None:
        """Staging or archive inside landing (or landing inside them), spelt through every
        alias the backend has, is refused with a clear error naming the field."""
        landing = route[0]
        assert landing.put(LANDING, "a.csv", b"a")
        spellings = [landing.url(LANDING), *landing.aliases(LANDING)]
        tried = 0
        for alias in spellings:
            inner = alias.rstrip("/") + "/inner/"
            for params in (
                {"dump_directory": inner},
                {"archive_directory": inner},
                {"dump_directory": alias},
            ):
                tried += 1
                path = self.routine((landing, landing), tmp_path, **params)
                with pytest.raises(RoutineError, match=r"must not|same location") as raised:
                    self.run(path)
                assert "directory" in str(raised.value)
        assert landing.files(LANDING) == {"a.csv": b"a"}
        assert landing.files(f"{LANDING}/inner") == {}
        count(self.label(route), aliases=tried)

    def test_a_root_landing_needs_an_explicit_archive(
        self, route: tuple[Place, Place], tmp_path: Path
    ) -> None:
        """A bucket, container or server root has no sibling to archive into: the default
        ``<landing>_archive`` would name another bucket anyone may own."""
        landing, _ = route
        root = landing.root_url()
        if root is None:
            pytest.skip(f"{landing.label} has no bucket or server root")
        path = self.routine(route, tmp_path, parent_directory=root, archive_or_delete="archive")
        with pytest.raises(RoutineError, match="archive_directory"):
            self.run(path)
        count(self.label(route), faults=1)

    # -- files changing, unreadable, without hashes --------------------------------------------

    def test_a_file_replaced_between_transfer_and_post_staging_is_kept(
        self, route: tuple[Place, Place], tmp_path: Path
    ) -> None:
        landing, staging = route
        originals = {f"f{number}.csv": f"original {number}".encode() for number in range(6)}
        for name, body in originals.items():
            assert landing.put(LANDING, name, body)
        path = self.routine(route, tmp_path, archive_or_delete="archive")
        assert self.run(path, only=["StagingExecutor.transfer"]).status == "succeeded"
        replaced = {"f1.csv": b"replacement one, longer", "f4.csv": b"replacement 4"}
        for name, body in replaced.items():
            assert landing.put(LANDING, name, body)

        post = self.run(path, only=["StagingExecutor.post_staging"])

        assert post.status == "succeeded", [t.to_dict() for t in post.tasks]
        assert post.tasks[0].output["changed_since_staged"] == len(replaced)
        assert landing.files(LANDING) == replaced
        assert landing.files(ARCHIVE) == {k: v for k, v in originals.items() if k not in replaced}
        again = self.run(path)
        assert again.status == "succeeded"
        assert landing.files(LANDING) == {}
        assert staging.files(STAGING) == {**originals, **replaced}
        assert landing.files(ARCHIVE) == {**originals, **replaced}
        count(self.label(route), faults=len(replaced), runs=3)

    def test_a_file_replaced_while_it_is_read_is_refused_or_staged_whole(
        self, route: tuple[Place, Place], tmp_path: Path
    ) -> None:
        """A file rewritten again and again (growing, replaced) while the run reads it:
        the run succeeds; that file is refused and named, or staged whole as one version;
        the others are staged; once it is quiet, the next run stages its last version."""
        landing, staging = route
        for number in range(5):
            assert landing.put(LANDING, f"steady{number}.csv", b"steady %d" % number)
        size = 4 << 20
        assert landing.put(LANDING, "moving.bin", b"0" * size)
        stop = threading.Event()
        writes = [0]

        def rewrite() -> None:
            while not stop.is_set():
                writes[0] += 1
                body = (b"%d" % (writes[0] % 10)) * (size + writes[0])
                landing.put(LANDING, "moving.bin", body)

        writer = threading.Thread(target=rewrite)
        path = self.routine(route, tmp_path, archive_or_delete="delete", max_workers=2)
        writer.start()
        try:
            result = self.run(path)
        finally:
            stop.set()
            writer.join()
        assert result.status == "succeeded", [t.to_dict() for t in result.tasks]
        staged = staging.files(STAGING)
        if "moving.bin" in staged:  # staged whole: exactly one version as written
            body = staged["moving.bin"]
            version = len(body) - size
            assert body == (b"%d" % (version % 10)) * len(body), "not one whole version"
        last = landing.files(LANDING).get("moving.bin")
        refused = {i["file"]: i["reason"] for i in result.tasks[0].output.get("refused_files", [])}
        if last is not None and "moving.bin" in refused:
            assert "changed" in refused["moving.bin"] or "vanished" in refused["moving.bin"]
        for number in range(5):
            assert staged[f"steady{number}.csv"] == b"steady %d" % number
        final = landing.files(LANDING)
        again = self.run(path)
        assert again.status == "succeeded"
        assert landing.files(LANDING) == {}
        if "moving.bin" in final:
            assert staging.files(STAGING)["moving.bin"] == final["moving.bin"]
        count(self.label(route), faults=writes[0], runs=2)

    def test_a_staged_file_shares_nothing_with_its_landing_file(
        self, route: tuple[Place, Place], tmp_path: Path
    ) -> None:
        """A staged file is its own copy, never a hard link to the landing file: a writer
        rewriting a landing file in place after transfer leaves the staged file as it was."""
        landing, staging = route
        originals = {f"own{number}.csv": b"original %d" % number for number in range(4)}
        for name, body in originals.items():
            assert landing.put(LANDING, name, body)
        path = self.routine(route, tmp_path)

        assert self.run(path, only=["StagingExecutor.transfer"]).status == "succeeded"

        for name in originals:
            shared = landing.identity(LANDING, name)
            assert shared is None or shared != staging.identity(STAGING, name), (
                f"staged {name} is the landing file itself (one inode)"
            )
            assert landing.put(LANDING, name, b"rewritten in place")
        assert staging.files(STAGING) == originals, "a write to landing changed staging"
        count(self.label(route), faults=len(originals), runs=1)

    def test_an_unreadable_file_is_refused_by_name_and_the_rest_staged(
        self, route: tuple[Place, Place], tmp_path: Path
    ) -> None:
        """A file the storage's login may list but not read (a 403, a permission denied;
        under an unprivileged login where the tests run as root): that file is refused and
        named, the others are staged, and post_staging leaves it where it is."""
        landing, staging = route
        for number in range(4):
            assert landing.put(LANDING, f"ok{number}.csv", b"ok %d" % number)
        assert landing.put(LANDING, "locked.csv", b"locked")
        if not landing.make_unreadable(LANDING, "locked.csv"):
            pytest.skip(f"{landing.label}: no way to make a file unreadable here")
        login = landing.run_as() or staging.run_as()

        if login is None:
            result = self.run(self.routine(route, tmp_path, archive_or_delete="delete"))
        else:
            from lakeroutine.testing.conformance.login import run_as

            def write(folder: Path) -> Path:
                return self.routine(route, folder, archive_or_delete="delete")

            for place in route:
                place.share_with(login)

            result = run_as(login, write, self.plugins)

        assert result.status == "succeeded", [vars(t) for t in result.tasks]
        [refused] = result.tasks[0].output["refused_files"]
        assert refused["file"] == "locked.csv" and "cannot be read" in refused["reason"]
        assert result.tasks[1].status == "succeeded"  # post_staging ran for the rest
        assert staging.files(STAGING) == {f"ok{n}.csv": b"ok %d" % n for n in range(4)}
        assert landing.files(LANDING) == {"locked.csv": b"locked"}, "post_staging touched it"
        count(self.label(route), faults=1, runs=1)

    def test_files_without_content_hashes_are_archived_once_after_kills(
        self, route: tuple[Place, Place], tmp_path: Path
    ) -> None:
        """Files with no content hash (no Content-MD5, a multipart ETag): ``lakeroutine run``
        is killed while it archives, then run again: each file archived exactly once."""
        landing, staging = route
        if self.plugins:
            pytest.skip("plugins registered in code do not reach a `lakeroutine run` process")
        originals = {f"d{n % 3}/nohash{n:03}.csv": b"row %d\n" % n for n in range(self.kill_files)}
        for name, body in originals.items():
            if not landing.put_without_hash(LANDING, name, body):
                pytest.skip(f"{landing.label}: every file has a content hash")
        path = self.routine(route, tmp_path, archive_or_delete="archive", max_workers=2)
        assert self.run(path, only=["StagingExecutor.transfer"]).status == "succeeded"
        kills = 0
        for share in (1, self.kill_files // 3):
            process = cli_run(path)
            kills += kill_when(process, lambda s=share: len(landing.files(ARCHIVE)) >= s)
        done = cli_run(path)
        _, err = done.communicate(timeout=300)
        assert done.returncode == 0, err.decode()
        assert landing.files(LANDING) == {}
        assert staging.files(STAGING) == originals
        assert landing.files(ARCHIVE) == originals, "archived twice, or lost"
        count(self.label(route), kills=kills, runs=kills + 2, names=len(originals))


def cli_run(path: Path) -> subprocess.Popen[bytes]:
    """``lakeroutine run`` of a routine file in a new process (this test's environment)."""
    command = [sys.executable, "-m", "lakeroutine.cli", "-q", "run", str(path)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_when(process: subprocess.Popen[bytes], condition: Any) -> int:
    """SIGKILL ``process`` once ``condition()`` holds: 1 if it was killed, 0 if it ended."""
    from lakeroutine.testing import kill_when as kill

    return int(kill(process, condition))


class LocalPlace(Place):
    """A local folder as a :class:`Place` (for the built-in storage and mixed routes)."""

    label = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def url(self, folder: str) -> str:
        return os.path.join(str(self.root), folder).rstrip("/") + "/"

    def put(self, folder: str, name: str | bytes, body: bytes) -> bool:
        raw = os.fsencode(name)
        segments = raw.split(b"/")
        if raw.startswith(b"/") or any(s in (b"", b".", b"..") or len(s) > 255 for s in segments):
            return False  # a filesystem cannot hold that name literally
        path = os.path.join(os.fsencode(self.root), os.fsencode(folder), raw)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:  # rewritten in place: grows while written
                handle.write(body)
        except OSError:
            return False  # ``k`` beside ``k/inner.csv``
        return True

    def files(self, folder: str) -> dict[str, bytes]:
        base = os.path.join(os.fsencode(self.root), os.fsencode(folder))
        found = {}
        for top, _, names in os.walk(base):
            for name in names:
                path = os.path.join(top, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    try:
                        with open(path, "rb") as handle:
                            found[os.fsdecode(os.path.relpath(path, base))] = handle.read()
                    except FileNotFoundError:  # renamed or removed by a run meanwhile
                        continue
        return found

    def everything(self) -> dict[str, bytes]:
        return self.files("")

    def names(self, folder: str) -> list[str]:
        base = os.path.join(str(self.root), folder)
        return [
            os.path.relpath(os.path.join(top, name), base)
            for top, _, names in os.walk(base)
            for name in names
        ]

    def aliases(self, folder: str) -> list[str]:
        """Without the trailing slash, as a ``file://`` URL, through ``.`` and ``..``,
        through a symbolic link to it and through a link to its parent."""
        path = os.path.join(str(self.root), folder).rstrip("/")
        link = self.root / f"link-to-{folder.replace('/', '-')}"
        parent_link = self.root.parent / f"{self.root.name}-parent-link"
        for alias, target in ((link, path), (parent_link, str(self.root))):
            if not alias.is_symlink():
                alias.symlink_to(target)
        return [
            path,
            f"file://{path}/",
            os.path.join(str(self.root), ".", folder, ""),
            os.path.join(str(self.root), folder, "..", folder, ""),
            str(link) + "/",
            os.path.join(str(parent_link), folder, ""),
        ]

    def root_url(self) -> str | None:
        return None

    def put_without_hash(self, folder: str, name: str, body: bytes) -> bool:
        return self.put(folder, name, body)  # local files never carry a content hash

    def identity(self, folder: str, name: str) -> tuple[int, int]:
        st = os.stat(self.root / folder / name)
        return st.st_dev, st.st_ino

    def make_unreadable(self, folder: str, name: str) -> bool:
        """Mode 000. Root reads everything: there, where the place's folders can be
        reached by others, they are handed to ``nobody``, whose login a run then uses."""
        if os.geteuid() == 0:
            if not reachable_by_others(self.root):
                return False  # a private folder (pytest's tmp_path): nobody cannot reach it
            from lakeroutine.testing.conformance.login import NOBODY, give_to

            give_to(self.root, NOBODY)
            self.login: tuple[int, int] | None = NOBODY
        (self.root / folder / name).chmod(0)
        return True

    def run_as(self) -> tuple[int, int] | None:
        return getattr(self, "login", None)


def reachable_by_others(folder: Path) -> bool:
    """Whether any login may reach ``folder`` (each folder above it searchable by all)."""
    import stat

    return all(os.stat(above).st_mode & stat.S_IXOTH for above in Path(folder).parents)
