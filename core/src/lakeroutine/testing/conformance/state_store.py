"""The state-store conformance kit: what every state store must pass, run unchanged against
each store's own emulator (the fsspec habit: an abstract test class each backend inherits).

A store's tests subclass :class:`StateStoreConformance` and give it a ``state_url`` fixture;
every case below then runs against that store::

    from lakeroutine.testing.conformance.state_store import StateStoreConformance

    class TestMyStore(StateStoreConformance):
        store_name = "pg"
        shared = True  # every machine sees the state: kills are rerun from "another machine"

        @pytest.fixture
        def state_url(self, pg_server):  # the store's emulator, started by the test
            return f"pg://{pg_server}/lake"

        def corrupt(self, state_url, routine, what):  # optional: break "lock", "journal"...
            ...

A storage plugin runs the kill cases alone on its own emulator (local SQLite state) with
:class:`StateKillConformance` and the place it gives the storage kit::

    class TestGcsKills(StateKillConformance):
        routes = ()

        @pytest.fixture
        def route(self, gcs_bucket):
            return PlaceRoute(GcsPlace(gcs_bucket))

The cases: SIGKILL at each step of ``transfer`` and ``post_staging`` then a rerun (from
another machine where the state is shared), on every storage route the class names (local
folders, S3...), with a secret in the landing location; a scheduler's retry with its own run
id after its worker was killed; two runs at once; a lease lost or deleted under a live run;
the takeover window (a run paused while its retry re-attaches, then resumed); corrupt state
objects and the way out their error names; routine names differing only in punctuation; a
secret offered to the state. Every run ends with 0 lost, 0 doubled (each landing file staged
once and archived or deleted once) and 0 secrets in the state.

The kit counts what it tried (kill points, faults injected) in :data:`TALLY`, and appends
each case's counts as a JSON line to the file ``$LAKEROUTINE_CONFORMANCE_TALLY`` if set:
the README's numbers come from there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lakeroutine.testing import another_machine, kill_when, pause_when, unstamped, wait_for
from lakeroutine.testing.conformance.storage import Place

TOKEN = "kit-t0ken-" + "5ecret"  # the secret each kill case puts in its landing location
TALLY: dict[str, dict[str, int]] = {}
"""``{"STORE route": {"kill_points": n, "faults": n, "lost": 0, "doubled": 0, ...}}``."""


def tally(where: str, **counts: int) -> None:
    """Add ``counts`` to :data:`TALLY` under ``where`` (and to the tally file, if named)."""
    row = TALLY.setdefault(where, {})
    for key, value in counts.items():
        row[key] = row.get(key, 0) + value
    target = os.environ.get("LAKEROUTINE_CONFORMANCE_TALLY")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"where": where, **counts}) + "\n")


# -- storage routes: where the kill cases land and stage files ------------------------------


class Route:
    """Landing, staging and archive locations on one storage, and a way to read them back
    without lakeroutine (straight from the folder or the emulator)."""

    name = "route"
    plugins: tuple[str, ...] = ()  # plugins the runs need besides the built-ins
    files = 90  # landing files per kill case

    def url(self, which: str) -> str:
        raise NotImplementedError

    def write(self, which: str, relpath: str, body: bytes) -> None:
        raise NotImplementedError

    def read(self, which: str) -> dict[str, bytes]:
        """Every file below ``which`` by name (a temporary or claim left over too)."""
        raise NotImplementedError

    def count(self, which: str, claims: bool = True) -> int:
        """How many files are below ``which`` (``claims=False``: not counting files held
        under a claim name, as a local removal holds them first)."""
        return len(self.read(which))

    def options(self) -> dict[str, Any]:
        """``storage_options`` a routine needs on this route."""
        return {}


class LocalRoute(Route):
    """Local folders below ``root``."""

    name = "local"
    files = 120

    def __init__(self, root: Path) -> None:
        self.root = root

    def url(self, which: str) -> str:
        return str(self.root / which) + "/"

    def write(self, which: str, relpath: str, body: bytes) -> None:
        path = self.root / which / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)

    def read(self, which: str) -> dict[str, bytes]:
        folder = self.root / which
        if not folder.exists():
            return {}
        return {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file()  # temporaries and claims too: none may be left
        }

    def count(self, which: str, claims: bool = True) -> int:
        folder = self.root / which
        if not folder.exists():
            return 0
        return sum(
            1
            for _d, _s, names in os.walk(folder)
            for n in names
            if not n.endswith(".lakeroutine-tmp") and (claims or ".lakeroutine-tmp" not in n)
        )


class S3Route(Route):
    """Prefixes of a bucket on moto's server (the ``moto_endpoint`` fixture), read straight
    from the emulator's backend."""

    name = "s3"
    plugins = ("s3",)
    files = 60

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def url(self, which: str) -> str:
        return f"s3://{self.bucket}/{which}/"

    def _backend(self) -> Any:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        return s3_backends[DEFAULT_ACCOUNT_ID]["global"]

    def _keys(self, which: str) -> list[str]:
        keys = self._backend().buckets[self.bucket].keys
        for _ in range(100):
            try:
                return [k for k in list(keys.keys()) if k.startswith(which + "/")]
            except RuntimeError:  # changed while read
                continue
        raise RuntimeError("could not read the emulator's keys")

    def write(self, which: str, relpath: str, body: bytes) -> None:
        self._backend().put_object(self.bucket, f"{which}/{relpath}", body)

    def read(self, which: str) -> dict[str, bytes]:
        backend = self._backend()
        return {
            k[len(which) + 1 :]: backend.get_object(self.bucket, k).value for k in self._keys(which)
        }

    def count(self, which: str, claims: bool = True) -> int:
        return len(self._keys(which))

    def options(self) -> dict[str, Any]:
        return {"check_absent_before_copy": True}  # moto ignores IfNoneMatch on CopyObject


class PlaceRoute(Route):
    """A place of the storage kit (GCS, Azure, SFTP... on their emulators) as a route of
    the kill cases: the storages that run the storage kit run the kill cases in a few lines."""

    def __init__(self, place: Place, plugins: tuple[str, ...] = (), files: int = 60) -> None:
        self.place = place
        self.name = place.label
        self.plugins = plugins or (place.label,)
        self.files = files

    def url(self, which: str) -> str:
        return self.place.url(which)

    def write(self, which: str, relpath: str, body: bytes) -> None:
        assert self.place.put(which, relpath, body), f"{self.name} cannot hold {relpath!r}"

    def read(self, which: str) -> dict[str, bytes]:
        return self.place.files(which)

    def count(self, which: str, claims: bool = True) -> int:
        return sum(
            1
            for name in self.place.names(which)
            if not name.endswith(".lakeroutine-tmp") and (claims or ".lakeroutine-tmp" not in name)
        )

    def options(self) -> dict[str, Any]:
        return self.place.options()


def _end_all(*processes: subprocess.Popen[bytes] | None) -> None:
    """Kill what a failed case left running, paused processes included."""
    for process in processes:
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.kill()
            process.wait()


def make_route(name: str, request: pytest.FixtureRequest, root: Path) -> Route:
    """The route called ``name`` for one test (``local`` or ``s3``)."""
    if name == "local":
        return LocalRoute(root)
    if name == "s3":
        pytest.importorskip("lakeroutine_s3")
        endpoint = request.getfixturevalue("moto_endpoint")
        import boto3

        bucket = f"kit-lake-{os.getpid()}-{time.monotonic_ns() % 10**9}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        return S3Route(bucket)
    raise ValueError(f"unknown route {name!r}")


# -- running lakeroutine as a separate process ----------------------------------------------

HOLD_LOCK = """
import sys, time
from lakeroutine.plugins import load_plugins
from lakeroutine.state.lock import this_process
store = load_plugins().state_stores().open(sys.argv[1], sys.argv[2])
store.run_lock().acquire(this_process(sys.argv[3]))
print("held", flush=True)
time.sleep(600)
"""

RUN_STEP = """
import sys
import lakeroutine
variables = {"die_at": sys.argv[3], "counter": sys.argv[4]}
result = lakeroutine.run_routine(sys.argv[1], run_id=sys.argv[2], retries=False, vars=variables)
sys.exit(0 if result.status == "succeeded" else 1)
"""


class StateKillConformance:
    """The kill cases alone, with a local SQLite state by default: a storage plugin's tests
    subclass it and give a ``route`` fixture (a :class:`PlaceRoute` around the storage kit's
    place on its emulator) to have ``lakeroutine run`` killed at each step on that storage."""

    store_name = "sqlite"
    shared = False  # True: every machine sees the state (kills are rerun elsewhere)
    routes: tuple[str, ...] = ("local",)  # empty: the subclass gives its own route fixture
    plugins: tuple[str, ...] = ()  # plugins the store needs

    # -- what a store's tests provide ---------------------------------------------------

    @pytest.fixture
    def state_url(self, tmp_path: Path) -> str:
        return str(tmp_path / "state")

    def state_bytes(self, state_url: str) -> bytes:
        """Every byte the store holds (the secrets check reads it); default: the files of
        a local folder."""
        folder = Path(state_url)
        if not folder.exists():
            return b""
        return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())

    # -- parametrisation ------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "route" in metafunc.fixturenames and self.routes:
            metafunc.parametrize("route", self.routes, indirect=True)
        if "machine" in metafunc.fixturenames:
            metafunc.parametrize("machine", ["another"] if self.shared else ["same"])

    @pytest.fixture
    def route(self, request: pytest.FixtureRequest, tmp_path: Path) -> Route:
        return make_route(request.param, request, tmp_path / "lake")

    # -- helpers ---------------------------------------------------------------------------

    def _start_step(self, routine: Path, route: Route, run_id: str) -> subprocess.Popen[str]:
        """The routine's steps started as a scheduler's run ``run_id`` would, in a process."""
        return subprocess.Popen(
            [sys.executable, "-c", RUN_STEP, str(routine), run_id, "0", "-"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self._env(route),
        )

    def _run_later(self, routine: Path, route: Route) -> subprocess.CompletedProcess[str]:
        """A later scheduled run of the routine's first step (its own run id), to its end."""
        return subprocess.run(
            [sys.executable, "-c", RUN_STEP, str(routine), "sched-later", "0", "-"],
            capture_output=True,
            text=True,
            env=self._env(route),
            timeout=300,
        )

    def _env(self, route: Route | None = None) -> dict[str, str]:
        plugins = set(self.plugins) | set(route.plugins if route else ())
        return {
            **os.environ,
            "LAKE_TOKEN": TOKEN,
            "LAKEROUTINE_PLUGINS": ",".join(sorted(plugins)),
        }

    def _where(self, route: Route | None = None) -> str:
        return f"{self.store_name} {route.name if route else '-'}"

    # -- the kill cases --------------------------------------------------------------------

    def _staging_routine(
        self, root: Path, route: Route, state_url: str, mode: str, transform: bool = True
    ) -> Path:
        routine = {
            "routine_name": "kit kill",
            "state": state_url,
            "vars": {"die_at": "0", "counter": "-"},  # the kill cases pass their own
            "executors": {
                "StagingExecutor": {
                    "params": {
                        "parent_directory": route.url("landing-${env:LAKE_TOKEN}"),
                        "dump_directory": route.url("staging"),
                        "archive_or_delete": mode,
                        "py_exec_path": "lakeroutine.testing:copy_or_die",
                        "py_exec_args": {
                            "die_at": "${die_at}",
                            "counter": "${counter}",
                            "stamp": True,  # a load time: no two runs write the same bytes
                        },
                        "max_workers": 4,
                        **self._storage_params(route),
                    },
                    "tasks": ["transfer", "post_staging"],
                }
            },
        }
        if not transform:  # a plain copy (server-side where both ends are one store)
            params = routine["executors"]["StagingExecutor"]["params"]  # type: ignore[index]
            del params["py_exec_path"], params["py_exec_args"]
        path = root / "routine.json"
        path.write_text(json.dumps(routine))
        return path

    def _storage_params(self, route: Route) -> dict[str, Any]:
        options = route.options()
        return {"storage_options": options} if options else {}

    def _start(
        self, routine: Path, route: Route, die_at: int = 0, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        counter = routine.parent / f"counter-{time.monotonic_ns()}"
        command = [sys.executable, "-m", "lakeroutine.cli", "-q", "run", str(routine)]
        command += ["--var", f"die_at={die_at}", "--var", f"counter={counter}", "--wait", "60"]
        return subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env={**self._env(route), **({"HOME": str(cwd)} if cwd else {})},
        )

    @pytest.mark.slow
    @pytest.mark.parametrize(
        ("mode", "transform"), [("archive", True), ("delete", True), ("archive", False)]
    )
    def test_killed_at_each_step_then_rerun(
        self,
        tmp_path: Path,
        route: Route,
        state_url: str,
        mode: str,
        transform: bool,
        machine: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """SIGKILL in transfer (on the 1st file and a third of the way: by a transformation
        stamping a load time, or from outside while plain copies are made) and in
        post_staging (after its first file and a third of them), each rerun on ``machine``:
        then one run ends with every landing file staged once and archived or deleted once,
        the secret in the landing location never in the state or the output."""
        landing = f"landing-{TOKEN}"
        total = route.files
        originals = {
            f"day{i % 3}/f{i:04}.csv": f"id,n\n{i},{i * i}\n".encode() for i in range(total)
        }
        for rel, body in originals.items():
            route.write(landing, rel, body)
        routine = self._staging_routine(tmp_path, route, state_url, mode, transform)
        machines = iter(range(1, 100))

        def start(die_at: int = 0) -> subprocess.Popen[bytes]:
            cwd = None
            if machine == "another":
                cwd = another_machine(monkeypatch, tmp_path, f"machine-{next(machines)}")
            return self._start(routine, route, die_at, cwd)

        kills = 0
        for share in (1, total // 3):  # in transfer
            if transform:  # by the transformation itself, on its n-th file
                process = start(share)
                _out, err = process.communicate(timeout=180)
                assert process.returncode == -signal.SIGKILL, err.decode()
                kills += 1
            else:  # from outside, once n copies are published
                kills += kill_when(start(), lambda s=share: route.count("staging") >= s)
        # Killed once under way; a kill from outside may land after the last copy is
        # published, before transfer ends: a kill point too (kills counts it).
        assert 0 < route.count("staging") <= total
        if mode == "archive":  # in post_staging, from outside, once it is under way
            for share in (1, total // 3):
                kills += kill_when(start(), lambda s=share: route.count(f"{landing}_archive") >= s)
            # Killed once under way; on fast local folders the last kill may land after the
            # last archive write, before post_staging ends: a kill point too (kills counts it).
            assert 0 < route.count(f"{landing}_archive") <= total
        else:  # deletes go in batches (one request on object stores): killed once begun
            for _ in range(2):
                kills += kill_when(start(), lambda: route.count(landing, claims=False) < total)
        assert kills == 4

        final = start()
        out, err = final.communicate(timeout=300)
        assert final.returncode == 0, err.decode()
        assert TOKEN.encode() not in out + err

        staged = route.read("staging")
        archived = route.read(f"{landing}_archive")
        lost = [rel for rel in originals if rel not in staged]
        doubled = [rel for rel in staged if rel not in originals]
        if mode == "archive":
            lost += [rel for rel in originals if rel not in archived]
            doubled += [rel for rel in archived if rel not in originals]
        leaked = TOKEN.encode() in self.state_bytes(state_url)
        tally(
            self._where(route),
            kill_points=kills,
            runs=kills + 1,
            files=total,
            lost=len(lost),
            doubled=len(doubled),
            secrets=int(leaked),
        )
        assert route.read(landing) == {}  # every landing file archived or deleted
        assert lost == [] and doubled == []
        assert {rel: unstamped(body) for rel, body in staged.items()} == originals
        assert archived == (originals if mode == "archive" else {})
        assert not leaked, "the landing location's secret reached the state"


class StateStoreConformance(StateKillConformance):
    """Every case of the kit for one state store: the kill cases on the storage routes
    the class names, and the store's own (retries, the lock, leases, corrupt objects).
    Subclass it in a test module, give it a ``state_url`` fixture. Override :meth:`corrupt`
    to let the kit break the store's objects, and :meth:`state_bytes` if the store keeps its
    state outside ``state_url``'s folder."""

    lease = False  # True: the run lock is a lease (LeaseLock) that can be lost or deleted

    @pytest.fixture
    def state_url(self) -> str:
        raise NotImplementedError("give the kit a state_url fixture")

    def state_url_at(self, location: str) -> str | None:
        """A URL of this store placing the state at storage ``location`` (a folder or
        prefix URL), or None if it cannot live there; default: local folders."""
        return None if "://" in location else location + ".state"

    def with_lease(self, state_url: str, seconds: int) -> str | None:
        """``state_url`` with a lease of ``seconds`` (a lease store), or None (no lease)."""
        return None

    def corrupt(self, state_url: str, routine: str, what: str) -> bool:
        """Break the store's ``what`` (``lock``, ``journal`` or ``values``) of ``routine``;
        False if this store cannot (the case is skipped)."""
        return False

    def _store(self, state_url: str, routine: str) -> Any:
        from lakeroutine.plugins import load_plugins

        return load_plugins().state_stores().open(state_url, routine)

    def _hold(self, state_url: str, routine: str, run_id: str) -> subprocess.Popen[str]:
        """A process holding ``routine``'s run lock as run ``run_id`` (kill it to end it)."""
        process = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, state_url, routine, run_id],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self._env(),
        )
        line = process.stdout.readline() if process.stdout else ""
        if line.strip() != "held":
            process.kill()
            raise AssertionError(f"the lock holder did not start: {process.stderr.read()}")
        return process

    @pytest.mark.slow
    def test_a_scheduler_retry_with_its_own_run_id_reattaches(
        self, tmp_path: Path, state_url: str
    ) -> None:
        """A worker killed mid-transfer; the scheduler's retry, with the same run id, goes on
        at once (no waiting for a lease) and stages everything exactly once."""
        route = LocalRoute(tmp_path / "lake")
        originals = {f"f{i:03}.csv": f"{i}\n".encode() for i in range(30)}
        for rel, body in originals.items():
            route.write(f"landing-{TOKEN}", rel, body)
        routine = self._staging_routine(tmp_path, route, state_url, "archive")
        counter = str(tmp_path / "counter")

        def step(die_at: int = 0) -> subprocess.CompletedProcess[str]:
            run_id = "sched-2026-12-07"
            return subprocess.run(
                [sys.executable, "-c", RUN_STEP, str(routine), run_id, str(die_at), counter],
                capture_output=True,
                text=True,
                env=self._env(route),
                timeout=120,
            )

        killed = step(die_at=5)  # the worker dies on its 5th file
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        retry = step()  # the scheduler's retry, at once
        assert retry.returncode == 0, retry.stderr
        assert "already running" not in retry.stderr
        staged = route.read("staging")
        tally(self._where(), kill_points=1, runs=2, files=30)
        assert {k: unstamped(v) for k, v in staged.items()} == originals
        assert route.read(f"landing-{TOKEN}_archive") == originals

    @pytest.mark.parametrize("field", ["parent_directory", "dump_directory", "archive_directory"])
    def test_state_inside_a_staging_location_is_refused(
        self,
        tmp_path: Path,
        route: Route,
        field: str,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """State kept inside landing, staging or the archive would be staged, archived or
        deleted as data (its live lease too): validate refuses it, naming the fields, and
        nothing is written."""
        from lakeroutine.cli import main

        which = {"parent_directory": "landing", "dump_directory": "staging"}.get(field, "arch")
        state = self.state_url_at(route.url(which) + ".state/")
        if state is None:
            pytest.skip(f"{self.store_name} state cannot live on {route.name}")
        route.write("landing", "a.csv", b"1\n")
        params = {
            "parent_directory": route.url("landing"),
            "dump_directory": route.url("staging"),
            "archive_directory": route.url("arch"),
            **self._storage_params(route),
        }
        routine = {
            "routine_name": "kit apart",
            "state": state,
            "executors": {"StagingExecutor": {"params": params, "tasks": ["transfer"]}},
        }
        path = tmp_path / "apart.json"
        path.write_text(json.dumps(routine))
        for key, value in self._env(route).items():
            monkeypatch.setenv(key, value)
        for command in ("validate", "run"):
            assert main([command, str(path)]) == 2
        err = capsys.readouterr().err
        assert "state" in err and field in err, err
        assert route.read("staging") == {} and route.read("landing") == {"a.csv": b"1\n"}
        tally(self._where(route), faults=1)

    # -- the lock ---------------------------------------------------------------------------

    def test_two_runs_at_once_one_waits(self, tmp_path: Path, state_url: str) -> None:
        """While a live run holds the lock, another run (another run id) is refused at once
        and nothing moves; the lock of a routine is not another routine's."""
        from lakeroutine.state import LockHeld
        from lakeroutine.state.lock import this_process

        holder = self._hold(state_url, "kit two", "run-one")
        try:
            store = self._store(state_url, "kit two")
            with pytest.raises(LockHeld, match="run-one"):
                store.run_lock().acquire(this_process("run-two"))
            other = self._store(state_url, "kit two!")  # punctuation: another routine
            other.run_lock().acquire(this_process("run-three"))
            other.run_lock().release()
        finally:
            holder.kill()
            holder.wait()
        tally(self._where(), faults=1)

    def test_a_retry_of_the_same_run_reattaches_to_a_killed_holder(
        self, tmp_path: Path, state_url: str
    ) -> None:
        """The holder is SIGKILLed: its own run id takes the lock at once; another run id
        does too where the lock dies with its process, else waits for the lease to end."""
        from lakeroutine.state import LockHeld
        from lakeroutine.state.lock import this_process

        holder = self._hold(state_url, "kit retry", "sched-1")
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        store = self._store(state_url, "kit retry")
        lock = store.run_lock()
        if self.lease:
            with pytest.raises(LockHeld):
                self._store(state_url, "kit retry").run_lock().acquire(this_process("other"))
        lock.acquire(this_process("sched-1"))
        try:
            store.set_value("kit", "resumed", True)
            assert store.get_values("kit") == {"resumed": True}
        finally:
            lock.release()
        tally(self._where(), kill_points=1)

    def test_a_lost_or_deleted_lease_stops_every_state_write(
        self, tmp_path: Path, state_url: str
    ) -> None:
        """A lease deleted under a live run is lost at its next renewal (not after most of
        the lease); a lease taken over likewise; after either, the run writes no state."""
        from lakeroutine.state import StateError
        from lakeroutine.state.lock import Conflict, this_process

        if not self.lease:
            pytest.skip(f"{self.store_name}: the run lock is not a lease")
        for fault in ("deleted", "taken over"):
            store = self._store(state_url, "kit lease")
            lock = store.run_lock()
            lost: list[bool] = []
            lock.acquire(this_process("run-a"), on_lost=lambda seen=lost: seen.append(True))
            store.set_value("kit", "before", 1)
            journal = store.records("kit_table", "kit")
            journal.put("a", {"n": 1})  # buffered
            other = self._store(state_url, "kit lease")
            if fault == "deleted":
                backend = other.run_lock().backend
                for _attempt in range(20):  # the holder may renew between read and delete
                    _record, token = backend.read()
                    try:
                        backend.remove(token)
                        break
                    except Conflict:
                        continue
            else:
                other.run_lock().acquire(this_process("run-a"))  # the same run, re-attached
            deadline = time.monotonic() + lock.ttl_s / 2 + 5
            while not lock.lost() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert lock.lost() and lost == [True], f"a {fault} lease was not seen as lost"
            with pytest.raises(StateError, match="lost"):
                store.set_value("kit", "after", 2)
            with pytest.raises(StateError, match="lost"):
                store.checkpoint()
            fresh = self._store(state_url, "kit lease")
            assert "after" not in fresh.get_values("kit")
            assert fresh.records("kit_table", "kit").get("a") is None
            lock.release()
            other.run_lock().release()
            fresh.forget()
            tally(self._where(), faults=1)

    @pytest.mark.slow
    @pytest.mark.parametrize("step", ["transfer", "post_staging"])
    def test_a_run_whose_lease_was_taken_over_loses_and_doubles_nothing(
        self, tmp_path: Path, route: Route, state_url: str, step: str
    ) -> None:
        """The takeover window. Run A is paused mid-``step``; the scheduler's retry B (the
        same run id) re-attaches to the lease at once and is paused in turn; A resumes and,
        until its next renewal (up to a quarter lease), still writes what needs no state
        checkpoint: staged copies, durable output claims, archive copies, landing removals.
        Then B and a later run finish: every landing file staged once and archived once,
        whatever A wrote in its window (0 lost, 0 doubled)."""
        if not self.lease:
            pytest.skip(f"{self.store_name}: the run lock is not a lease")
        state = self.with_lease(state_url, 300)  # a quarter lease: a window A cannot outlive
        assert state is not None, "a lease store must give with_lease"
        landing, archive = f"landing-{TOKEN}", f"landing-{TOKEN}_archive"
        total = route.files
        originals = {f"day{i % 3}/f{i:04}.csv": f"id\n{i}\n".encode() for i in range(total)}
        for rel, body in originals.items():
            route.write(landing, rel, body)
        routine = self._staging_routine(tmp_path, route, state, "archive")

        first = retry = None
        try:
            first = self._start_step(routine, route, "sched-takeover")
            where = "staging" if step == "transfer" else archive
            assert pause_when(first, lambda: route.count(where) >= 1), "A ended before pausing"
            retry = self._start_step(routine, route, "sched-takeover")
            lock = self._store(state, "kit kill").run_lock()
            assert wait_for(lambda: getattr(lock.holder(), "pid", None) == retry.pid, retry)
            os.kill(retry.pid, signal.SIGSTOP)  # B holds the lease; A still thinks it does
            before = [route.count(w) for w in (landing, "staging", archive)]
            os.kill(first.pid, signal.SIGCONT)
            _out, err_first = first.communicate(timeout=300)  # A: its window, then it stops
            after = [route.count(w) for w in (landing, "staging", archive)]
            os.kill(retry.pid, signal.SIGCONT)
            _out, err_retry = retry.communicate(timeout=300)
        finally:  # a failed case leaves no paused process behind
            _end_all(first, retry)
        later = self._run_later(routine, route)
        assert later.returncode == 0, f"A: {err_first}\nB: {err_retry}\nlater: {later.stderr}"
        assert first.returncode != 0, "a run that lost its lease ended as if it had not"

        staged, archived = route.read("staging"), route.read(archive)
        lost = [rel for rel in originals if rel not in staged or rel not in archived]
        doubled = [rel for rel in (*staged, *archived) if rel not in originals]
        window = sum(abs(a - b) for a, b in zip(after, before, strict=True))
        tally(self._where(route), faults=1, runs=3, files=total, window_writes=window)
        tally(self._where(route), lost=len(lost), doubled=len(doubled))
        assert route.read(landing) == {}
        assert lost == [] and doubled == []
        assert {rel: unstamped(body) for rel, body in staged.items()} == originals
        assert archived == originals

    @pytest.mark.slow
    def test_a_retry_that_read_the_journal_outlives_late_writes_of_the_run_it_took_over(
        self, tmp_path: Path, route: Route, state_url: str
    ) -> None:
        """Another order of the takeover window. Run A is paused mid-``post_staging``; its
        retry B (the same run id) re-attaches and reads the journal, and is held inside
        ``transfer`` (in the transformation of a file that landed since). A resumes and,
        until it sees its lease gone, writes journal segments: each landing name is in the
        archive already (an earlier delivery), so each archive copy takes a second-choice
        name, journalled durably before the copy. Then B goes on: it must take A's late
        writes in (not stop as if two runs were live) and finish; a later run finds nothing
        left. Every landing file staged once and archived once, the earlier deliveries
        untouched. Where the lock dies only with its holder, B is refused while A lives:
        the order cannot arise, and A, then the later run, finish."""
        state = self.with_lease(state_url, 300) if self.lease else state_url
        assert state is not None, "a lease store must give with_lease"
        landing, archive = f"landing-{TOKEN}", f"landing-{TOKEN}_archive"
        total = route.files
        originals = {f"day{i % 3}/f{i:04}.csv": f"id\n{i}\n".encode() for i in range(total)}
        earlier = {rel: b"an earlier delivery of " + rel.encode() for rel in originals}
        for rel, body in originals.items():
            route.write(landing, rel, body)
            route.write(archive, rel, earlier[rel])
        routine = self._staging_routine(tmp_path, route, state, "archive")
        gate = tmp_path / "gate"
        gate.mkdir()
        spec = json.loads(routine.read_text())
        params = spec["executors"]["StagingExecutor"]["params"]
        params["py_exec_path"] = "lakeroutine.testing:copy_at_gate"
        params["py_exec_args"] = {"gate": str(gate), "stamp": True}
        routine.write_text(json.dumps(spec))

        first = retry = None
        err_first = err_retry = ""
        try:
            first = self._start_step(routine, route, "sched-late")
            in_window = lambda: route.count(archive) > len(earlier)  # noqa: E731
            assert pause_when(first, in_window), "A ended before pausing"
            route.write(landing, "late.csv", b"id\nlate\n")
            (gate / "armed").touch()
            retry = self._start_step(routine, route, "sched-late")
            held = wait_for(lambda: (gate / "arrived").exists(), retry)
            assert held == self.lease, "B reached the transformation while A held the lock"
            before = route.count(archive)
            os.kill(first.pid, signal.SIGCONT)
            if not self.lease:  # B was refused at once: the lock is A's while A lives
                _out, err_retry = retry.communicate(timeout=300)
                assert retry.returncode != 0, "two runs held the lock at once"
            _out, err_first = first.communicate(timeout=300)  # A: its window, then it stops
            window = route.count(archive) - before
            (gate / "open").touch()
            if self.lease:
                _out, err_retry = retry.communicate(timeout=300)
                assert first.returncode != 0, "a run that lost its lease ended as if it had not"
                assert window > 0, f"A wrote nothing in its window: {err_first}"
                assert retry.returncode == 0, f"B stopped after A's late writes: {err_retry}"
        finally:  # a failed case leaves no paused or held process behind
            (gate / "open").touch()
            _end_all(first, retry)
        later = self._run_later(routine, route)
        assert later.returncode == 0, f"A: {err_first}\nB: {err_retry}\nlater: {later.stderr}"

        staged, archived = route.read("staging"), route.read(archive)
        expected = {**originals, "late.csv": b"id\nlate\n"}
        second = {}  # where each landing file was archived: beside its earlier delivery
        for rel in originals:
            folder, _, name = rel.rpartition("/")
            stem, dot, suffix = name.partition(".")
            second[f"{folder}/{stem}.sched-late{dot}{suffix}"] = rel
            second[f"{folder}/{stem}.sched-later{dot}{suffix}"] = rel
        copies = [second.get(name, name) for name in archived if name not in earlier]
        lost = [rel for rel in expected if rel not in staged or rel not in copies]
        doubled = [rel for rel in set(copies) if copies.count(rel) > 1]
        doubled += [rel for rel in staged if rel not in expected]
        late = window if self.lease else 0  # else A was the only run: no window
        tally(self._where(route), faults=1, runs=3, files=total + 1, window_writes=late)
        tally(self._where(route), lost=len(lost), doubled=len(doubled))
        assert route.read(landing) == {}
        assert lost == [] and doubled == []
        assert {rel: unstamped(body) for rel, body in staged.items()} == expected
        assert {rel: archived[rel] for rel in earlier} == earlier, "an earlier delivery changed"

    # -- what the state holds ------------------------------------------------------------

    def test_claims_are_durable_before_outputs_are_written(self, state_url: str) -> None:
        """An output-name claim is seen by a new process at once (no checkpoint): a rerun
        after a kill recognises the outputs its predecessor wrote."""
        from lakeroutine.staging.journal import StagingJournal

        store = self._store(state_url, "kit claims")
        journal = StagingJournal(store, "kit", "outputs")
        owned, taken = journal.claim_outputs("landing:x\0a.csv", ["a.csv"])
        assert (owned, taken) == (set(), {})
        journal.claim_outputs("landing:x\0b.csv", ["b.csv", "b.meta"])
        # no checkpoint, no close: as if killed here
        again = StagingJournal(self._store(state_url, "kit claims"), "kit", "outputs")
        assert again.output_source("a.csv") == "landing:x\0a.csv"
        assert again.output_source("b.meta") == "landing:x\0b.csv"
        assert again.claim_outputs("landing:x\0a.csv", ["a.csv"]) == ({"a.csv"}, {})
        tally(self._where(), kill_points=1)

    def test_a_secret_is_never_written_nor_masked(self, state_url: str) -> None:
        """A value holding a secret the process knows is refused, not masked (masked state
        is read back wrong); nothing of it is written."""
        from lakeroutine.redact import remember
        from lakeroutine.state import StateError

        secret = "kit-value-" + "s3cr3t-" + str(time.monotonic_ns())
        remember([secret])
        store = self._store(state_url, "kit secret")
        with pytest.raises(StateError, match="secret"):
            store.set_value("kit", "url", f"s3://lake/{secret}/a.csv")
        with pytest.raises(StateError, match="secret"):
            store.records("kit_table", "kit").put("a", {"url": secret}, durable=True)
        assert secret.encode() not in self.state_bytes(state_url)
        tally(self._where(), faults=1, secrets=0)

    def test_routine_names_differing_in_punctuation_keep_apart(self, state_url: str) -> None:
        """``ingest eu`` and ``ingest_eu`` have their own state: clearing one keeps the
        other's journal."""
        first, second = self._store(state_url, "ingest eu"), self._store(state_url, "ingest_eu")
        first.set_value("scope", "n", 1)
        second.set_value("scope", "n", 2)
        second.records("journal", "s").put("a.csv", {"status": "staged"}, durable=True)
        assert first.get_values("scope") == {"n": 1}
        first.forget()
        kept = self._store(state_url, "ingest_eu")
        assert kept.get_values("scope") == {"n": 2}
        assert kept.records("journal", "s").get("a.csv") == {"status": "staged"}
        assert self._store(state_url, "ingest eu").get_values("scope") == {}
        tally(self._where(), faults=1)

    @pytest.mark.parametrize("what", ["lock", "journal", "values"])
    def test_corrupt_state_has_a_way_out_that_works(
        self, tmp_path: Path, state_url: str, what: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A corrupt state object stops the run with one line naming it and the command
        that clears it; that command works, and the next run stages every new file once."""
        from lakeroutine.cli import main

        route = LocalRoute(tmp_path / "lake")
        landing = f"landing-{TOKEN}"
        first = {f"f{i}.csv": f"{i}\n".encode() for i in range(3)}
        later = {f"g{i}.csv": f"{i}\n".encode() for i in range(3)}
        routine = self._staging_routine(tmp_path, route, state_url, "archive")
        argv = ["-q", "run", str(routine), "--var", "die_at=0", "--var", "counter=-"]
        for key, value in self._env(route).items():
            monkeypatch.setenv(key, value)
        for rel, body in first.items():
            route.write(landing, rel, body)
        assert main(argv) == 0
        if not self.corrupt(state_url, "kit kill", what):
            pytest.skip(f"{self.store_name} cannot have its {what} broken by the kit")
        for rel, body in later.items():
            route.write(landing, rel, body)
        done = subprocess.run(
            [sys.executable, "-m", "lakeroutine.cli", *argv],
            capture_output=True,
            text=True,
            env=self._env(route),
            timeout=120,
        )
        if done.returncode != 0:
            way_out = done.stderr.partition("lakeroutine state clear")[2]
            assert way_out, f"no way out named: {done.stderr}"
            forced = ["--force", "--yes"] if "--force" in way_out.split(";")[0] else []
            assert main(["state", "clear", str(routine), *forced]) == 0, done.stderr
            assert main(argv) == 0
        staged = route.read("staging")
        assert {k: unstamped(v) for k, v in staged.items()} == {**first, **later}
        assert route.read(f"{landing}_archive") == {**first, **later}
        assert route.read(landing) == {}
        tally(self._where(), faults=1)


__all__ = [
    "TALLY",
    "TOKEN",
    "LocalRoute",
    "PlaceRoute",
    "Route",
    "S3Route",
    "StateKillConformance",
    "StateStoreConformance",
    "make_route",
    "tally",
]
