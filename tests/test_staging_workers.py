"""Per-file transformations in worker processes (``workers``): the same outputs as threads,
nothing lost or doubled when a worker dies, an unimportable transformation named, bad
params refused before anything runs, log lines passed to the parent's (masking) handlers.
A transformation raising in a worker: ``test_staging.py``, beside threads and notebooks."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from lakeroutine.cli import main
from lakeroutine.concurrency import cpu_share, usable_cpus
from lakeroutine.errors import RoutineError
from lakeroutine.orchestrator import run_routine
from lakeroutine.plugins import load_plugins
from lakeroutine.routine import validate_routine
from lakeroutine.staging.transforms import load_function, parse_transform
from lakeroutine.staging.workers import Transformer, plan
from lakeroutine.testing import wait_for
from lakeroutine.transforms import csv_to_parquet


@pytest.fixture
def registry():
    return load_plugins(entry_points=False)


def staging(lake, name="workers_test", tasks=("transfer", "post_staging"), **params):
    spec = {
        "routine_name": name,
        "executors": {
            "StagingExecutor": {
                "params": {
                    "parent_directory": "landing/",
                    "dump_directory": "staging/",
                    "archive_or_delete": "delete",
                    **params,
                },
                "tasks": list(tasks),
            }
        },
    }
    return lake.routine_file(spec)


def write_module(lake, name, text):
    (lake.root / name).write_text(textwrap.dedent(text))


# Writes the upper-cased file, and which process did it, beside the lake (never in staging).
UPPER = """
    import os
    from pathlib import Path

    def shout(source, target, seen):
        target.write_text(source.read_text().upper())
        Path(seen, source.name).write_text(str(os.getpid()))
"""


def land_files(lake, count=6):
    for number in range(count):
        lake.write(f"d{number % 2}/f{number}.csv", f"row {number}\n" * 50)


def transfer_with(lake, registry, mode, reference, args, max_workers):
    """``transfer`` through ``reference`` with ``workers: mode``, into a staging folder of
    the mode's own; its output and that folder."""
    result = run_routine(
        staging(
            lake,
            name=f"r_{mode}",
            tasks=["transfer"],
            dump_directory=f"staging-{mode}/",
            py_exec_path=reference,
            py_exec_args=args,
            workers=mode,
            max_workers=max_workers,
        ),
        registry=registry,
    )
    assert result.status == "succeeded", result.tasks[0].error
    return result.tasks[0].output, lake.root / f"staging-{mode}"


def test_worker_processes_stage_the_same_outputs_as_threads(lake, registry):
    write_module(lake, "upper.py", UPPER)
    land_files(lake)
    seen = {mode: lake.root / f"seen-{mode}" for mode in ("threads", "processes")}
    staged = {}
    for mode, folder in seen.items():
        folder.mkdir()
        output, where = transfer_with(
            lake, registry, mode, "upper.py:shout", {"seen": str(folder)}, max_workers=3
        )
        assert output["staged"] == 6
        staged[mode] = lake.files(where)
    assert staged["processes"] == staged["threads"]
    assert staged["threads"]["d1/f3.csv"] == b"ROW 3\n" * 50
    parent = str(os.getpid())
    assert {p.read_text() for p in seen["threads"].iterdir()} == {parent}
    workers = {p.read_text() for p in seen["processes"].iterdir()}
    assert parent not in workers and 1 <= len(workers) <= 3


def test_builtin_csv_to_parquet_in_processes_matches_threads(lake, registry):
    pq = pytest.importorskip("pyarrow.parquet")
    for number in range(3):
        lake.write(f"s{number}.csv", "column1,column2\n" + f"ana,{number}\n" * 20_000)
    tables = {}
    for mode in ("threads", "processes"):
        _, folder = transfer_with(
            lake,
            registry,
            mode,
            "lakeroutine.transforms:csv_to_parquet",
            {"mapper": {"column1": "name"}},
            max_workers=2,
        )
        tables[mode] = {
            path.name: pq.read_table(path).to_pylist() for path in sorted(folder.iterdir())
        }
    assert tables["processes"] == tables["threads"]
    assert tables["processes"]["s2.csv.parquet"][0] == {"name": "ana", "column2": 2}


def test_a_module_on_the_parents_sys_path_is_importable_in_the_workers(lake, registry, monkeypatch):
    write_module(lake, "shouting.py", UPPER)
    monkeypatch.syspath_prepend(str(lake.root))
    lake.write("a.csv", "quiet")
    (lake.root / "seen").mkdir()
    result = run_routine(
        staging(
            lake,
            py_exec_path="shouting:shout",
            py_exec_args={"seen": str(lake.root / "seen")},
            workers="processes",
        ),
        registry=registry,
    )
    assert result.status == "succeeded", result.tasks[0].error
    assert lake.files(lake.staging) == {"a.csv": b"QUIET"}
    assert (lake.root / "seen" / "a.csv").read_text() != str(os.getpid())


# Kills its own worker process (SIGKILL) mid-file: on b.csv's first attempt only, or always.
KILLER = """
    import os, signal
    from pathlib import Path

    def f(source, target, marks, always):
        if source.name == "b.csv":
            first = not Path(marks, "b.csv").exists()
            Path(marks, "b.csv").write_text("tried")
            if first or always:
                target.write_text("partial")
                os.kill(os.getpid(), signal.SIGKILL)
        target.write_text("done " + source.read_text())
"""


def test_a_worker_killed_once_is_replaced_and_the_file_staged_once(lake, registry):
    write_module(lake, "killer.py", KILLER)
    (lake.root / "marks").mkdir()
    for name in ("a.csv", "b.csv", "c.csv"):
        lake.write(name, name[0])
    result = run_routine(
        staging(
            lake,
            py_exec_path="killer.py:f",
            py_exec_args={"marks": str(lake.root / "marks"), "always": False},
            workers="processes",
            max_workers=2,
        ),
        registry=registry,
    )
    assert result.status == "succeeded", result.tasks[0].error
    assert result.tasks[0].output["refused"] == 0
    assert lake.files(lake.staging) == {"a.csv": b"done a", "b.csv": b"done b", "c.csv": b"done c"}
    assert lake.files(lake.landing) == {}


def test_a_file_whose_worker_always_dies_is_refused_then_staged_once_by_the_next_run(
    lake, registry
):
    write_module(lake, "killer.py", KILLER)
    (lake.root / "marks").mkdir()
    for name in ("a.csv", "b.csv", "c.csv"):
        lake.write(name, name[0])
    args = {"marks": str(lake.root / "marks"), "always": True}
    routine = staging(lake, py_exec_path="killer.py:f", py_exec_args=args, workers="processes")
    result = run_routine(routine, registry=registry)
    transfer = result.tasks[0]
    assert transfer.status == "succeeded"  # with warnings: on_refused is 'warn'
    assert transfer.output["staged"] == 2 and transfer.output["refused"] == 1
    [refused] = transfer.output["refused_files"]
    assert refused["file"] == "b.csv"
    assert "worker process died twice (killed by SIGKILL)" in refused["reason"]
    assert lake.files(lake.staging) == {"a.csv": b"done a", "c.csv": b"done c"}
    assert lake.files(lake.landing) == {"b.csv": b"b"}  # nothing lost: left for the next run

    args["always"] = False  # the transformation is mended; b.csv is staged, once
    (lake.root / "marks" / "b.csv").write_text("tried")
    again = run_routine(
        staging(lake, py_exec_path="killer.py:f", py_exec_args=args, workers="processes"),
        registry=registry,
    )
    assert again.status == "succeeded", again.tasks[0].error
    assert again.tasks[0].output["staged"] == 1
    assert lake.files(lake.staging) == {"a.csv": b"done a", "b.csv": b"done b", "c.csv": b"done c"}
    assert lake.files(lake.landing) == {}


def test_an_import_error_in_the_worker_fails_the_task_and_stages_nothing(lake, registry):
    write_module(lake, "t.py", "import no_such_module_here\n\ndef f(source, target):\n    pass\n")
    lake.write("a.csv", "a")
    result = run_routine(
        staging(lake, py_exec_path="t.py:f", workers="processes"), registry=registry
    )
    assert result.status == "failed"
    assert "ModuleNotFoundError" in result.tasks[0].error
    assert "no_such_module_here" in result.tasks[0].error
    assert not lake.staging.exists() or lake.files(lake.staging) == {}
    assert lake.files(lake.landing) == {"a.csv": b"a"}


def test_worker_log_lines_reach_the_parents_handlers_with_secrets_masked(lake, capsys, monkeypatch):
    monkeypatch.setenv("LAKE_TOKEN", "s3cr3t-t0ken-value")
    write_module(
        lake,
        "t.py",
        """
        import logging

        def f(source, target, token):
            logging.getLogger("lakeroutine.t").warning("using token %s on %s", token, source.name)
            target.write_text("ok")
        """,
    )
    lake.write("a.csv", "a")
    routine = staging(
        lake,
        py_exec_path="t.py:f",
        py_exec_args={"token": "${env:LAKE_TOKEN}"},
        workers="processes",
    )
    assert main(["run", str(routine)]) == 0
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "using token *** on a.csv" in text
    assert "s3cr3t-t0ken-value" not in text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"workers": "fork"}, "field 'params.workers'"),
        ({"workers": "processes"}, "workers: 'processes' runs a per-file transformation"),
        (
            {"workers": "processes", "py_exec_path": "nb"},
            "this block has a notebook folder",
        ),
    ],
)
def test_bad_workers_params_are_refused_before_anything_runs(lake, registry, params, message):
    (lake.root / "nb").mkdir()
    (lake.root / "nb" / "py_exec.py").write_text("def main(parent, dump): pass\n")
    lake.write("a.csv", "a")
    routine = staging(lake, **params)
    with pytest.raises(RoutineError) as caught:
        validate_routine(routine, registry=registry)
    assert message in str(caught.value)
    assert str(routine) in str(caught.value) and "StagingExecutor" in str(caught.value)
    with pytest.raises(RoutineError):
        run_routine(routine, registry=registry)
    assert lake.files(lake.landing) == {"a.csv": b"a"}
    assert not lake.staging.exists()


def test_auto_plans_one_call_in_the_parent_and_the_rest_in_processes():
    assert plan("auto", 8, cpus=2) == (1, 1)
    assert plan("auto", 2, cpus=8) == (1, 1)
    assert plan("auto", 8, cpus=8) == (1, 7)
    assert plan("auto", 1, cpus=8) == (None, 0)  # one worker: no process pays its start
    assert plan("auto", 8, cpus=1) == (None, 0)
    assert plan("threads", 8, cpus=8) == (None, 0)
    assert plan("processes", 3, cpus=1) == (0, 3)


# Records its process, then waits until ``wait_for`` files have started (so calls overlap).
MEETING = """
    import os, time
    from pathlib import Path

    def f(source, target, seen, wait_for):
        Path(seen, source.name).write_text(str(os.getpid()))
        deadline = time.monotonic() + 120
        while len(list(Path(seen).iterdir())) < wait_for and time.monotonic() < deadline:
            time.sleep(0.01)
        target.write_bytes(source.read_bytes()[:10])
"""


@pytest.mark.parametrize(
    ("files", "size", "wait_for", "in_a_worker"),
    [
        (2, 300_000, 2, True),  # two large files at once: the second goes to a worker
        (1, 300_000, 1, False),  # a lone file never pays a process's start
        (3, 1_000, 3, False),  # small files stay in the parent
    ],
)
def test_auto_uses_a_worker_only_for_overlapping_large_files(
    lake, registry, files, size, wait_for, in_a_worker
):
    write_module(lake, "meeting.py", MEETING)
    (lake.root / "seen").mkdir()
    for number in range(files):
        lake.write(f"f{number}.csv", b"x" * size)
    result = run_routine(
        staging(
            lake,
            py_exec_path="meeting.py:f",
            py_exec_args={"seen": str(lake.root / "seen"), "wait_for": wait_for},
            max_workers=4 if size < 256 * 1024 else 2,
        ),
        registry=registry,
    )
    assert result.status == "succeeded", result.tasks[0].error
    assert len(lake.files(lake.staging)) == files
    pids = {p.read_text() for p in (lake.root / "seen").iterdir()}
    assert str(os.getpid()) in pids
    assert (len(pids) == 2) is in_a_worker


# Writes the output (or hard-links the landing file as it), then records the output's inode.
INODE = """
    import os
    from pathlib import Path

    def f(source, target, seen, link):
        if link:
            os.link(source, target)
        else:
            target.write_bytes(source.read_bytes()[::-1])
        Path(seen).write_text(str(os.stat(target).st_ino))
"""


@pytest.mark.parametrize("where", ["same filesystem", "tmpfs", "hard link"])
def test_transformation_outputs_are_moved_into_staging_where_they_can_be(
    lake, registry, monkeypatch, where
):
    """One rename when the output is the run's own file on staging's filesystem; a
    verified copy across filesystems, or for an output that shares its inode with landing."""
    if where == "tmpfs":
        shm = "/dev/shm"
        if not os.path.isdir(shm) or os.stat(shm).st_dev == os.stat(lake.root).st_dev:
            pytest.skip("no second filesystem for temporary folders")
        monkeypatch.setenv("TMPDIR", shm)
        monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    write_module(lake, "inode.py", INODE)
    seen = lake.root / "inode"
    lake.write("d/a.bin", b"abc" * 1000)
    result = run_routine(
        staging(
            lake,
            tasks=["transfer"],
            py_exec_path="inode.py:f",
            py_exec_args={"seen": str(seen), "link": where == "hard link"},
            workers="threads",
        ),
        registry=registry,
    )
    assert result.status == "succeeded", result.tasks[0].error
    staged = lake.staging / "d" / "a.bin"
    expected = b"abc" * 1000 if where == "hard link" else (b"abc" * 1000)[::-1]
    assert staged.read_bytes() == expected
    moved = os.stat(staged).st_ino == int(seen.read_text())
    assert moved is (where == "same filesystem")
    assert os.stat(staged).st_ino != os.stat(lake.landing / "d" / "a.bin").st_ino
    assert [p.name for p in staged.parent.iterdir()] == ["a.bin"]  # no temporary left


# Records its share of the CPUs once both files have started (so the two calls overlap).
SHARING = """
    import time
    from pathlib import Path

    from lakeroutine.concurrency import cpu_share

    def f(source, target, seen):
        share = cpu_share()
        Path(seen, source.name).write_text("started")
        deadline = time.monotonic() + 120
        while len(list(Path(seen).iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        target.write_text(str(share))
"""


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_each_call_is_told_its_share_of_the_cpus(lake, registry, mode):
    """The first call runs alone (every CPU); the second, beside it, gets half of them:
    what csv_to_parquet sizes pyarrow's reader threads by, in the parent or a worker."""
    write_module(lake, "sharing.py", SHARING)
    (lake.root / "seen").mkdir()
    lake.write("a.csv", b"x" * 300_000)
    lake.write("b.csv", b"y" * 300_000)
    output, where = transfer_with(
        lake, registry, mode, "sharing.py:f", {"seen": str(lake.root / "seen")}, max_workers=2
    )
    assert output["staged"] == 2
    cpus = usable_cpus()
    shares = sorted(int(text) for text in lake.files(where).values())
    assert shares == sorted([cpus, max(1, cpus // 2)])
    assert cpu_share() == cpus  # outside a staging call: every CPU


def test_auto_runs_a_function_that_releases_the_gil_on_threads(lake, registry):
    """A function marked ``__lakeroutine_workers__ = "threads"`` (as csv_to_parquet is)
    never starts a worker process, even with large files transformed at once."""
    write_module(lake, "meeting.py", MEETING + '\n    f.__lakeroutine_workers__ = "threads"\n')
    (lake.root / "seen").mkdir()
    for number in range(2):
        lake.write(f"f{number}.csv", b"x" * 300_000)
    result = run_routine(
        staging(
            lake,
            py_exec_path="meeting.py:f",
            py_exec_args={"seen": str(lake.root / "seen"), "wait_for": 2},
            max_workers=2,
        ),
        registry=registry,
    )
    assert result.status == "succeeded", result.tasks[0].error
    assert len(lake.files(lake.staging)) == 2
    assert {p.read_text() for p in (lake.root / "seen").iterdir()} == {str(os.getpid())}
    assert getattr(csv_to_parquet, "__lakeroutine_workers__", None) == "threads"


@pytest.mark.parametrize("use_threads", [None, True, False])
def test_csv_to_parquet_writes_the_same_table_with_or_without_reader_threads(tmp_path, use_threads):
    pq = pytest.importorskip("pyarrow.parquet")
    source = tmp_path / "s.csv"
    source.write_text("a,b\n" + "".join(f"{n},x{n}\n" for n in range(50_000)))
    output = csv_to_parquet(source, tmp_path / "s.csv", use_threads=use_threads)
    rows = pq.read_table(output).to_pylist()
    assert len(rows) == 50_000 and rows[49_999] == {"a": 49_999, "b": "x49999"}


# Marked as releasing the GIL; counts the calls inside it at once, each held at the gate.
GATED = """
    import threading

    lock = threading.Lock()
    gate = threading.Event()
    inside = [0, 0]  # now, most at once

    def f(source, target):
        with lock:
            inside[0] += 1
            inside[1] = max(inside)
        gate.wait(120)
        with lock:
            inside[0] -= 1
        target.write_text("done")

    f.__lakeroutine_workers__ = "threads"
"""


def test_auto_on_threads_runs_at_most_one_call_per_cpu_at_once(lake):
    """As auto does with worker processes: the other staging threads wait their turn."""
    write_module(lake, "gated.py", GATED)
    ref = parse_transform("gated.py:f", lake.root)
    transformer = Transformer(ref, {}, "auto", max_workers=4, cpus=2)
    module = sys.modules[load_function(ref).__module__]
    entered = []

    def call(number):
        entered.append(number)
        folder = lake.root / f"out{number}"
        folder.mkdir()
        transformer(lake.root / "gated.py", folder / "x", size=1_000_000)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    assert wait_for(lambda: len(entered) == 4 and module.inside[0] >= 2)
    module.gate.set()
    for thread in threads:
        thread.join(120)
    assert module.inside == [0, 2]
    assert all((lake.root / f"out{n}" / "x").read_text() == "done" for n in range(4))
    transformer.close()


# Checks its folder is empty, writes an output and a subfolder, records the folder it got.
SCRATCH = """
    from pathlib import Path

    def f(source, target, seen, fail):
        if any(target.parent.iterdir()):
            raise AssertionError("the scratch folder holds another file's leftovers")
        (target.parent / "sub").mkdir()
        (target.parent / "sub" / ("extra-" + source.name)).write_text("x")
        target.write_text(source.read_text())
        Path(seen, source.name).write_text(str(target.parent))
        if source.name in fail:
            raise ValueError("refused on purpose")
"""


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_scratch_folders_are_reused_renamed_emptied_and_removed_at_the_end(
    lake, registry, monkeypatch, mode
):
    """Files one after another reuse one scratch folder (none made and removed per file),
    renamed after each file (a late writer's path leads nowhere) and empty, and nothing is
    left in TMPDIR after the run, nor after a transformation that failed."""
    tmp = lake.root / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    write_module(lake, "scratchy.py", SCRATCH)
    seen = lake.root / "seen"
    seen.mkdir()
    for number in range(3):
        lake.write(f"f{number}.csv", f"row {number}\n")
    args = {"seen": str(seen), "fail": []}
    output, where = transfer_with(lake, registry, mode, "scratchy.py:f", args, max_workers=1)
    assert output["staged"] == 3
    assert lake.files(where)["f2.csv"] == b"row 2\n"
    assert lake.files(where)["sub/extra-f1.csv"] == b"x"
    folders = {Path(p.read_text()) for p in seen.iterdir()}
    assert len(folders) == 3 and len({folder.parent for folder in folders}) == 1
    assert list(tmp.iterdir()) == []
    lake.write("g.csv", "bad\n")
    failed = run_routine(
        staging(
            lake,
            name=f"r_{mode}",
            tasks=["transfer"],
            dump_directory=f"staging-{mode}/",
            py_exec_path="scratchy.py:f",
            py_exec_args={"seen": str(seen), "fail": ["g.csv"]},
            workers=mode,
        ),
        registry=registry,
    )
    assert failed.status == "failed" and "refused on purpose" in failed.tasks[0].error
    assert list(tmp.iterdir()) == []
