"""Staging tried as a hostile user would, on local folders: names that cannot be staged,
outputs that would overwrite each other, symbolic links, aliased locations, files changing
mid-run, and a second run of the same routine. Each test failed on main before the fix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from lakeroutine.errors import RoutineError
from lakeroutine.orchestrator import run_routine
from lakeroutine.plugins import load_plugins
from lakeroutine.state.lock import FileLock, this_process


@pytest.fixture
def registry():
    return load_plugins(entry_points=False)


def staging(lake, tasks=("transfer", "post_staging"), name="routine.json", **params):
    spec = {
        "routine_name": "hostile",
        "executors": {
            "StagingExecutor": {
                "params": {"parent_directory": "landing/", "dump_directory": "staging/", **params},
                "tasks": list(tasks),
            }
        },
    }
    return lake.routine_file(spec, name)


def cli(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "lakeroutine.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "LAKEROUTINE_PLUGINS": ""},
        timeout=120,
        **kwargs,
    )


# -- 1. one name, one place --------------------------------------------------------------------


def test_undecodable_and_control_character_names_are_left_and_named_in_one_line(lake):
    landing = os.fsencode(lake.landing)
    with open(os.path.join(landing, b"bad\xff.csv"), "wb") as handle:
        handle.write(b"not utf-8")
    lake.write("new\nline.csv", "a control character")
    lake.write("good.csv", "fine")
    path = staging(lake, archive_or_delete="delete")

    done = cli("run", str(path), "--report", str(lake.root / "report.json"))

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "bad\\xff.csv left in landing: the name holds bytes that are not valid UTF-8" in (
        done.stderr
    )
    assert "new\\nline.csv left in landing: the name holds a control character" in done.stderr
    assert lake.files(lake.staging) == {"good.csv": b"fine"}
    assert sorted(os.listdir(landing)) == [b"bad\xff.csv", b"new\nline.csv"]
    report = json.loads((lake.root / "report.json").read_text())
    transfer = report["tasks"][0]["output"]
    assert transfer["refused"] == 2 and transfer["staged"] == 1
    assert {item["file"] for item in transfer["refused_files"]} == {
        "bad\\xff.csv",
        "new\\nline.csv",
    }


def test_on_refused_fail_stages_the_rest_then_fails(lake, registry):
    lake.write("new\nline.csv", "x")
    lake.write("good.csv", "fine")
    result = run_routine(staging(lake, on_refused="fail"), registry=registry)
    assert result.status == "failed"
    assert "1 landing file could not be staged and was left" in result.tasks[0].error
    assert lake.files(lake.staging) == {"good.csv": b"fine"}
    assert set(lake.files(lake.landing)) == {"new\nline.csv", "good.csv"}  # nothing removed


def test_a_name_too_long_for_the_target_is_refused(lake, registry):
    long_segment = "x" * 250 + ".csv"  # fits landing's 255 bytes...
    lake.write(long_segment, "long")
    result = run_routine(staging(lake), registry=registry)
    assert result.status == "succeeded"
    assert result.tasks[0].output["refused"] == 0  # ...and staging's: staged
    assert lake.files(lake.staging) == {long_segment: b"long"}


# -- 2. outputs never overwrite each other ----------------------------------------------------


def test_builtin_csv_to_parquet_names_distinct_inputs_distinctly(lake, registry):
    pytest.importorskip("pyarrow")
    names = ["sales.2024-01-01", "sales.2024-01-02", "sales.2024-01-03", "x.csv", "x.tsv"]
    for number, name in enumerate(names):
        lake.write(name, f"id,value\n{number},{number * 10}\n")
    path = staging(
        lake,
        archive_or_delete="delete",
        py_exec_path="lakeroutine.transforms:csv_to_parquet",
    )
    result = run_routine(path, registry=registry)
    assert result.status == "succeeded", result.tasks
    assert sorted(lake.files(lake.staging)) == sorted(f"{name}.parquet" for name in names)
    assert lake.files(lake.landing) == {}

    import pyarrow.parquet as pq

    values = {
        name: pq.read_table(lake.staging / f"{name}.parquet").to_pylist()[0]["value"]
        for name in names
    }
    assert values == {name: number * 10 for number, name in enumerate(names)}


def test_two_inputs_writing_one_output_name_stage_one_and_keep_the_other(lake, registry):
    (lake.root / "same_name.py").write_text(
        textwrap.dedent(
            """
            def everything_to_one(source, target):
                (target.parent / "out.csv").write_bytes(source.read_bytes())
            """
        )
    )
    lake.write("a.csv", "from a")
    lake.write("b.csv", "from b")
    path = staging(lake, archive_or_delete="delete", py_exec_path="same_name.py:everything_to_one")

    result = run_routine(path, registry=registry)

    transfer = result.tasks[0].output
    assert transfer["staged"] == 1 and transfer["refused"] == 1
    [refused] = transfer["refused_files"]
    assert "its staging name out.csv already holds" in refused["reason"]
    staged = lake.files(lake.staging)["out.csv"]
    # The file whose output was refused stays in landing; the other was deleted.
    left = set(lake.files(lake.landing))
    assert left == ({"b.csv"} if staged == b"from a" else {"a.csv"})
    # Running again changes nothing: the name stays refused, nothing is overwritten.
    again = run_routine(path, registry=registry)
    assert again.tasks[0].output["refused"] == 1
    assert lake.files(lake.staging)["out.csv"] == staged
    assert set(lake.files(lake.landing)) == left


def test_a_staging_file_from_elsewhere_is_never_overwritten(lake, registry):
    (lake.staging).mkdir()
    (lake.staging / "a.csv").write_text("written by someone else")
    lake.write("a.csv", "landing version")
    lake.write("b.csv", "b")
    result = run_routine(staging(lake, archive_or_delete="delete"), registry=registry)
    [refused] = result.tasks[0].output["refused_files"]
    assert refused["file"] == "a.csv" and "staging already holds a.csv" in refused["reason"]
    assert lake.files(lake.staging) == {"a.csv": b"written by someone else", "b.csv": b"b"}
    assert lake.files(lake.landing) == {"a.csv": b"landing version"}


def test_a_new_version_of_a_landing_file_replaces_its_own_staged_copy(lake, registry):
    lake.write("a.csv", "day 1")
    path = staging(lake, archive_or_delete="delete")
    run_routine(path, registry=registry)
    lake.write("a.csv", "day 2")
    result = run_routine(path, registry=registry)
    assert result.tasks[0].output["staged"] == 1
    assert lake.files(lake.staging) == {"a.csv": b"day 2"}


# -- 3. symbolic links ---------------------------------------------------------------------------


def test_symbolic_links_are_skipped_named_and_left_with_their_targets(lake, registry):
    outside = lake.root / "secret.txt"
    outside.write_text("not landing's")
    lake.write("real.csv", "1")
    os.symlink(outside, lake.landing / "abs_link.csv")
    os.symlink("real.csv", lake.landing / "rel_link.csv")
    os.symlink(lake.root, lake.landing / "dir_link")
    path = staging(lake)

    for _ in range(3):  # reruns neither fail nor archive anything more
        result = run_routine(path, registry=registry)
        assert result.status == "succeeded", result.tasks

    assert lake.files(lake.staging) == {"real.csv": b"1"}
    assert lake.files(lake.root / "landing_archive") == {"real.csv": b"1"}
    assert not any(p.is_symlink() for p in (lake.root / "landing_archive").rglob("*"))
    assert sorted(p.name for p in lake.landing.iterdir()) == [
        "abs_link.csv",
        "dir_link",
        "rel_link.csv",
    ]
    assert outside.read_text() == "not landing's"
    refused = {item["file"]: item["reason"] for item in result.tasks[0].output["refused_files"]}
    assert refused == dict.fromkeys(
        ["abs_link.csv", "dir_link", "rel_link.csv"], "a symbolic link: not followed"
    )


# -- 4. overlap on resolved locations ----------------------------------------------------------

# The overlap checks on resolved locations (symlinks on either side, file:// and '..'
# spellings) are cases of the storage conformance kit (tests/test_conformance_local.py).


# -- 5. remove only the version staged ---------------------------------------------------------

REPLACER = """
import os, sys, time, random
landing, names, stop = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
rng = random.Random(0)
n = 0
while not os.path.exists(stop):
    name = rng.choice(names)
    n += 1
    tmp = os.path.join(landing, f".{name}.replacing")
    with open(tmp, "w") as handle:
        handle.write(f"replacement {n} of {name}")
    os.rename(tmp, os.path.join(landing, name))  # write, then rename over it
    with open(os.path.join(landing, "..", "replaced.log"), "a") as log:
        log.write(f"{name} {n}\\n")
    time.sleep(0.001)
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["delete", "archive"])
def test_a_file_replaced_during_post_staging_always_survives(lake, mode):
    names = [f"f{number:04}.csv" for number in range(3000)]
    for name in names:
        lake.write(name, f"original {name}")
    path = staging(lake, archive_or_delete=mode)
    assert cli("run", str(path), "--only", "StagingExecutor.transfer").returncode == 0
    archive = lake.root / "landing_archive"
    for attempt in range(3):
        staged = lake.files(lake.staging)  # the versions this post_staging may archive
        archived_before = set(lake.files(archive))
        stop = lake.root / f"stop{attempt}"
        replacer = subprocess.Popen(
            [sys.executable, "-c", REPLACER, str(lake.landing), ",".join(names), str(stop)]
        )
        try:
            done = cli("run", str(path), "--only", "StagingExecutor.post_staging")
        finally:
            stop.touch()
            replacer.wait(timeout=30)
        assert done.returncode == 0, done.stderr
        # The last replacement of each replaced name is in landing: none was removed.
        last = {}
        for line in (lake.root / "replaced.log").read_text().splitlines():
            name, number = line.split()
            last[name] = f"replacement {number} of {name}".encode()
        assert last, "the replacer did not run"
        landing = lake.files(lake.landing)
        for name, content in last.items():
            assert landing.get(name) == content, f"{name}: replacement lost"
        if mode == "archive":  # only staged versions are archived
            for name, body in lake.files(archive).items():
                if name not in archived_before:  # f0001.csv, or f0001.<run id>.csv
                    assert body == staged[name.split(".")[0] + ".csv"], name
        # Put everything back in play for the next attempt.
        (lake.root / "replaced.log").unlink()
        assert cli("run", str(path), "--only", "StagingExecutor.transfer").returncode == 0


# -- 6. one run at a time, private temporaries ------------------------------------------------


def test_a_second_run_exits_2_at_once_or_waits_with_wait(lake):
    lake.write("a.csv", "1")
    path = staging(lake)
    lock = FileLock(lake.root / ".lakeroutine" / "state" / "hostile.lock", "hostile")
    lock.acquire(this_process("holder-run"))
    try:
        done = cli("run", str(path))
        assert done.returncode == 2
        assert "routine 'hostile' is already running (run holder-run, pid" in done.stderr
        assert "--wait" in done.stderr
        assert lake.files(lake.landing) == {"a.csv": b"1"} and not lake.staging.exists()
        waiting = subprocess.Popen(
            [sys.executable, "-m", "lakeroutine.cli", "run", str(path), "--wait"],
            env={**os.environ, "LAKEROUTINE_PLUGINS": ""},
            stderr=subprocess.PIPE,
        )
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(timeout=1)  # still waiting for the lock
        assert not lake.staging.exists()
    finally:
        lock.release()
    assert waiting.wait(timeout=60) == 0
    assert lake.files(lake.staging) == {"a.csv": b"1"}


def test_run_routine_refuses_while_another_run_holds_the_lock(lake, registry):
    lake.write("a.csv", "1")
    path = staging(lake)
    lock = FileLock(lake.root / ".lakeroutine" / "state" / "hostile.lock", "hostile")
    lock.acquire(this_process("other"))
    try:
        with pytest.raises(RoutineError, match="already running"):
            run_routine(path, registry=registry)
    finally:
        lock.release()
    assert run_routine(path, registry=registry).status == "succeeded"


@pytest.mark.slow
def test_two_runs_started_together_one_killed_leave_every_file_once(lake):
    """Two `lakeroutine run --wait` of one routine start together; the first is killed
    mid-transfer; the second takes the lock and finishes: every file staged once, whole,
    no temporary left. Three rounds, each with new files."""
    path = staging(lake, archive_or_delete="delete", max_workers=4)
    env = {**os.environ, "LAKEROUTINE_PLUGINS": ""}
    command = [sys.executable, "-m", "lakeroutine.cli", "-q", "run", str(path), "--wait"]
    originals = {}
    for round_ in range(3):
        for number in range(1000):
            name = f"r{round_}/d{number % 5}/f{number:04}.bin"
            originals[name] = os.urandom(4096)
            lake.write(name, originals[name])
        runs = [subprocess.Popen(command, env=env, stderr=subprocess.PIPE) for _ in range(2)]
        lock = lake.root / ".lakeroutine" / "state" / "hostile.lock"
        folder = lake.staging / f"r{round_}"

        def holder_mid_transfer(folder=folder, lock=lock):
            """The pid of the run holding the lock, once it has staged 50 files."""
            if sum(len(f) for _, _, f in os.walk(folder)) <= 50:
                return None
            try:
                return json.loads(lock.read_text())["pid"]
            except (OSError, ValueError, KeyError):
                return None  # being written

        deadline = time.monotonic() + 60
        while (holder := holder_mid_transfer()) is None and time.monotonic() < deadline:
            time.sleep(0.001)
        [killed] = [run for run in runs if run.pid == holder]
        [other] = [run for run in runs if run.pid != holder]
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert other.wait(timeout=120) == 0, other.stderr.read().decode()
        assert lake.files(lake.landing) == {}
        assert lake.files(lake.staging) == originals  # complete, once, no temporaries


def test_two_routines_writing_one_staging_folder_never_share_a_temporary(lake, registry):
    other = lake.root / "landing2"
    for number in range(200):
        lake.write(f"a{number}.bin", os.urandom(1024))
        (other / "sub").mkdir(parents=True, exist_ok=True)
        (other / f"b{number}.bin").write_bytes(os.urandom(1024))
    first = staging(lake, archive_or_delete="delete", name="one.json")
    second_spec = json.loads(first.read_text())
    second_spec["routine_name"] = "hostile2"
    second_spec["executors"]["StagingExecutor"]["params"]["parent_directory"] = "landing2/"
    second = lake.routine_file(second_spec, "two.json")
    results = {}
    threads = [
        threading.Thread(target=lambda p=p: results.setdefault(p, cli("run", str(p))))
        for p in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(done.returncode == 0 for done in results.values()), results
    assert len(lake.files(lake.staging)) == 400  # and no temporary names


# -- 7. nothing unverified stays ---------------------------------------------------------------


def test_an_output_refused_half_way_keeps_the_outputs_already_written_owned(lake, registry):
    (lake.root / "split.py").write_text(
        textwrap.dedent(
            """
            def split(source, target):
                (target.parent / "1.part").write_text("one")
                (target.parent / "2.part").write_text("two")
            """
        )
    )
    lake.staging.mkdir()
    (lake.staging / "2.part").write_text("someone else's")
    lake.write("a.csv", "a")
    path = staging(lake, archive_or_delete="delete", py_exec_path="split.py:split")

    first = run_routine(path, registry=registry)
    assert first.tasks[0].output["refused"] == 1
    assert lake.files(lake.staging) == {"1.part": b"one", "2.part": b"someone else's"}
    assert lake.files(lake.landing) == {"a.csv": b"a"}

    (lake.staging / "2.part").unlink()  # the other writer's file goes away
    second = run_routine(path, registry=registry)
    assert second.tasks[0].output["staged"] == 1  # 1.part is still a.csv's to rewrite
    assert lake.files(lake.staging) == {"1.part": b"one", "2.part": b"two"}
    assert lake.files(lake.landing) == {}


def test_staging_progress_bars_get_their_totals(lake, registry):
    """Once the count is known the bar has a total: transfer's when its listing ends,
    post_staging's from the journal."""
    for number in range(7):
        lake.write(f"f{number}.csv", str(number))
    bars = {}

    class Bar:
        def __init__(self, description):
            self.description, self.total, self.done = description, None, 0
            bars[description] = self

        def set_total(self, total):
            self.total = total

        def advance(self, n=1):
            self.done += n

        def close(self):
            pass

    result = run_routine(
        staging(lake, archive_or_delete="delete"),
        registry=registry,
        progress_factory=lambda description, unit: Bar(description),
    )
    assert result.status == "succeeded"
    staging_bar = bars["StagingExecutor.transfer: staging"]
    deleting_bar = bars["StagingExecutor.post_staging: deleting"]
    assert (staging_bar.total, staging_bar.done) == (7, 7)
    assert (deleting_bar.total, deleting_bar.done) == (7, 7)


# -- 5. transformations that misbehave ---------------------------------------------------------

# The first call leaves a thread that writes one more file into its output folder once the
# second call has started; the second call returns only after that write was tried.
LATE_WRITER = """
    import threading

    second_started, late_written = threading.Event(), threading.Event()
    calls = []

    def late(source, target):
        calls.append(source.name)
        target.write_bytes(source.read_bytes())
        if len(calls) == 1:
            def later():
                second_started.wait(60)
                try:
                    (target.parent / "late.log").write_text("from " + source.name)
                except OSError:  # its folder gone: as it should be
                    pass
                finally:
                    late_written.set()

            threading.Thread(target=later, daemon=True).start()
        else:
            second_started.set()
            if not late_written.wait(60):
                raise AssertionError("the first call's thread never tried to write")
"""


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_a_file_written_after_a_transformation_returned_is_never_another_files_output(
    lake, registry, mode
):
    """Each file's transformation writes into a folder no earlier call was given: a thread
    of the first call writing after it returned must not be staged as the second file's
    output (scratch folders reused from file to file did exactly that)."""
    (lake.root / "late.py").write_text(textwrap.dedent(LATE_WRITER))
    lake.write("a.csv", "a")
    lake.write("b.csv", "b")
    path = staging(
        lake,
        archive_or_delete="delete",
        py_exec_path="late.py:late",
        max_workers=1,
        workers=mode,
    )

    result = run_routine(path, registry=registry)

    assert result.status == "succeeded", [t.error for t in result.tasks]
    assert lake.files(lake.staging) == {"a.csv": b"a", "b.csv": b"b"}
    assert lake.files(lake.landing) == {}


@pytest.mark.xfail(
    strict=True,
    reason="a writer that pauses longer than the 60 ms quiet window with the file still open "
    "is taken as done: the part written so far is staged and the archive's rename moves the "
    "inode it goes on writing to; telling needs an open-for-writing check at the copy "
    "(e.g. a read lease, F_SETLEASE F_RDLCK, which fails while any writer holds it open)",
)
def test_a_file_still_open_by_a_paused_writer_is_not_staged_half(lake, registry):
    """A writer appends half, pauses (its file's time set back a second, as after a long
    pause) with the file open, and appends the rest after the run: the file must be staged
    whole in the end, never its first half alone."""
    lake.write("other.csv", "x")
    path = staging(lake, archive_or_delete="archive", archive_directory="archive/")
    landing_file = lake.landing / "slow.csv"
    with open(landing_file, "wb") as writer:
        writer.write(b"first half\n")
        writer.flush()
        past = time.time() - 1
        os.utime(landing_file, (past, past))
        assert run_routine(path, registry=registry).status == "succeeded"
        writer.write(b"second half\n")
    run_routine(path, registry=registry)
    run_routine(path, registry=registry)

    staged = lake.files(lake.staging)
    left = lake.files(lake.landing)
    assert staged.get("slow.csv") == b"first half\nsecond half\n" or left == {
        "slow.csv": b"first half\nsecond half\n"
    }
