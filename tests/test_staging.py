"""StagingExecutor on local folders: every guarantee of DESIGN.md's "Staging" section."""

from __future__ import annotations

import os
import textwrap

import pytest
from lakeroutine.errors import RoutineError
from lakeroutine.orchestrator import run_routine
from lakeroutine.plugins import load_plugins


@pytest.fixture
def registry():
    return load_plugins(entry_points=False)


def staging(lake, tasks=("transfer", "post_staging"), **params):
    spec = {
        "routine_name": "staging_test",
        "executors": {
            "StagingExecutor": {
                "params": {"parent_directory": "landing/", "dump_directory": "staging/", **params},
                "tasks": list(tasks),
            }
        },
    }
    return lake.routine_file(spec)


def test_transfer_then_archive(lake, registry):
    lake.write("a.csv", "1")
    lake.write("sub/b.csv", "22")
    result = run_routine(staging(lake), registry=registry)
    assert result.status == "succeeded"
    assert lake.files(lake.staging) == {"a.csv": b"1", "sub/b.csv": b"22"}
    assert lake.files(lake.landing) == {}
    assert lake.files(lake.root / "landing_archive") == {"a.csv": b"1", "sub/b.csv": b"22"}
    transfer, post = (t.output for t in result.tasks)
    assert transfer["staged"] == 2 and transfer["bytes"] == 3
    assert post["archived"] == 2 and post["archive_directory"] == str(lake.root / "landing_archive")


def test_delete_mode_and_explicit_archive_directory(lake, registry):
    lake.write("a.csv", "1")
    result = run_routine(staging(lake, archive_or_delete="delete"), registry=registry)
    assert result.tasks[1].output["deleted"] == 1
    assert lake.files(lake.landing) == {} and not (lake.root / "landing_archive").exists()
    lake.write("b.csv", "2")
    run_routine(staging(lake, archive_directory="old"), registry=registry)
    assert lake.files(lake.root / "old") == {"b.csv": b"2"}


def test_include_and_exclude_globs(lake, registry):
    for name in ("a.csv", "b.json", "tmp/c.csv", "d.csv.partial"):
        lake.write(name, name)
    run_routine(staging(lake, include=["*.csv"], exclude=["tmp/*"]), registry=registry)
    assert set(lake.files(lake.staging)) == {"a.csv"}
    assert set(lake.files(lake.landing)) == {"b.json", "tmp/c.csv", "d.csv.partial"}


def test_archive_never_overwrites_an_earlier_archived_file(lake, registry):
    lake.write("a.csv", "first day")
    run_routine(staging(lake), registry=registry)
    lake.write("a.csv", "second day")
    result = run_routine(staging(lake), registry=registry)
    archived = lake.files(lake.root / "landing_archive")
    assert archived["a.csv"] == b"first day"
    (other,) = [name for name in archived if name != "a.csv"]
    assert archived[other] == b"second day" and result.run_id in other
    assert lake.files(lake.staging) == {"a.csv": b"second day"}


def test_an_earlier_archived_file_of_the_same_size_is_not_mistaken_for_this_one(lake, registry):
    lake.write("a.csv", "day1")
    run_routine(staging(lake), registry=registry)
    lake.write("a.csv", "day2")  # same name, same size, other bytes
    run_routine(staging(lake), registry=registry)
    archived = lake.files(lake.root / "landing_archive")
    assert sorted(archived.values()) == [b"day1", b"day2"]


def test_post_staging_touches_only_what_transfer_staged(lake, registry):
    lake.write("early.csv", "e")
    lake.write("changed.csv", "v1")
    path = staging(lake)
    run_routine(path, registry=registry, only=["StagingExecutor.transfer"])
    lake.write("late.csv", "arrived after transfer listed the folder")
    changed = lake.write("changed.csv", "v2 is longer")
    os.utime(changed, ns=(1, 1))
    result = run_routine(path, registry=registry, only=["StagingExecutor.post_staging"])
    assert result.tasks[0].output["archived"] == 1
    assert result.tasks[0].output["changed_since_staged"] == 1
    assert set(lake.files(lake.landing)) == {"late.csv", "changed.csv"}
    assert lake.files(lake.root / "landing_archive") == {"early.csv": b"e"}
    # The next full run stages and archives them.
    run_routine(path, registry=registry)
    assert lake.files(lake.landing) == {}
    assert lake.files(lake.staging)["changed.csv"] == b"v2 is longer"


def test_rerunning_transfer_skips_what_is_staged(lake, registry):
    lake.write("a.csv", "1")
    path = staging(lake)
    first = run_routine(path, registry=registry, only=["StagingExecutor.transfer"])
    again = run_routine(path, registry=registry, only=["StagingExecutor.transfer"])
    assert first.tasks[0].output["staged"] == 1
    assert again.tasks[0].output["staged"] == 0 and again.tasks[0].output["skipped"] == 1


def test_no_temporary_or_partial_files_are_left(lake, registry):
    for number in range(50):
        lake.write(f"f{number:02}.bin", os.urandom(2048))
    original = lake.files(lake.landing)
    run_routine(staging(lake, max_workers=4), registry=registry)
    assert lake.files(lake.staging) == original  # names and bytes: no .lakeroutine-tmp files


def write_module(lake, name, body):
    path = lake.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def test_notebook_contract_gets_local_working_folders(lake, registry):
    lake.write("in/x.csv", "column1,column2\na,1\n")
    write_module(
        lake,
        "transforms/py_exec.py",
        """
        import json, os
        CALLS = []
        def test():
            CALLS.append("test")
        def main(parent, dump, **kwargs):
            CALLS.append("main")
            for folder, _, files in os.walk(parent):
                for name in files:
                    rel = os.path.relpath(os.path.join(folder, name), parent)
                    out = os.path.join(dump, rel + ".out")
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    with open(out, "w") as f:
                        json.dump({"calls": CALLS, "kwargs": kwargs,
                                   "parent_slash": parent.endswith("/")}, f)
        """,
    )
    result = run_routine(staging(lake, py_exec_path="transforms"), registry=registry)
    assert result.status == "succeeded", result.tasks
    import json

    out = json.loads(lake.files(lake.staging)["in/x.csv.out"])
    assert out == {"calls": ["test", "main"], "kwargs": {}, "parent_slash": True}
    assert lake.files(lake.root / "landing_archive") == {"in/x.csv": b"column1,column2\na,1\n"}


def test_notebook_quickstart_transformation_renames_columns(lake, registry):
    import shutil
    from pathlib import Path

    examples = Path(__file__).resolve().parents[1] / "examples" / "notebook" / "py_exec"
    shutil.copytree(examples, lake.root / "transforms")
    lake.write("s.csv", "column1,column2,column3\nana,30,engineer\n")
    run_routine(
        staging(
            lake,
            py_exec_path="transforms/",
            py_exec_args={"mapper": {"column1": "name", "column2": "age"}},
        ),
        registry=registry,
    )
    assert lake.files(lake.staging) == {"s.csv": b"name,age,column3\r\nana,30,engineer\r\n"}


@pytest.mark.parametrize("form", ["file", "module"])
def test_per_file_function(lake, registry, form, monkeypatch):
    write_module(
        lake,
        "upper.py",
        """
        def shout(source, target, suffix=""):
            target.with_name(target.name + suffix).write_text(source.read_text().upper())
        """,
    )
    if form == "module":
        monkeypatch.syspath_prepend(str(lake.root))
        reference = "upper:shout"
    else:
        reference = "upper.py:shout"
    lake.write("d/a.txt", "quiet")
    run_routine(
        staging(lake, py_exec_path=reference, py_exec_args={"suffix": ".up"}), registry=registry
    )
    assert lake.files(lake.staging) == {"d/a.txt.up": b"QUIET"}


def test_builtin_csv_to_parquet(lake, registry):
    pq = pytest.importorskip("pyarrow.parquet")
    lake.write("a.csv", "column1,column2\nana,30\n")
    run_routine(
        staging(
            lake,
            py_exec_path="lakeroutine.transforms:csv_to_parquet",
            py_exec_args={"mapper": {"column1": "name", "column2": "age"}},
        ),
        registry=registry,
    )
    table = pq.read_table(lake.staging / "a.csv.parquet")
    assert table.to_pylist() == [{"name": "ana", "age": 30}]


@pytest.mark.parametrize("form", ["notebook", "per_file", "per_file in a worker process"])
def test_a_failing_transformation_removes_nothing(lake, registry, form):
    if form == "notebook":
        write_module(
            lake,
            "t/py_exec.py",
            """
            def test(): pass
            def main(parent, dump): raise ValueError("bad row 7")
            """,
        )
        reference = "t"
    else:
        write_module(
            lake,
            "t.py",
            """
            def f(source, target):
                if source.name == "b.csv":
                    raise ValueError("bad row 7")
                target.write_text("ok")
            """,
        )
        reference = "t.py:f"
    lake.write("a.csv", "a")
    lake.write("b.csv", "b")
    params = {"workers": "processes"} if "worker" in form else {}
    routine = staging(lake, py_exec_path=reference, max_workers=1, **params)
    result = run_routine(routine, registry=registry)
    assert result.status == "failed"
    assert "bad row 7" in result.tasks[0].error
    if form != "notebook":
        assert "transformation failed on b.csv: ValueError: bad row 7" in result.tasks[0].error
    assert result.tasks[1].status == "skipped"
    assert lake.files(lake.landing) == {"a.csv": b"a", "b.csv": b"b"}
    assert not (lake.root / "landing_archive").exists()


def test_missing_landing_folder_is_an_error_before_anything_runs(lake, registry):
    os.rmdir(lake.landing)
    with pytest.raises(RoutineError, match=r"field 'params.parent_directory'.*does not exist"):
        run_routine(staging(lake), registry=registry)
    assert not lake.staging.exists()


class LossyStorage:
    """A storage plugin (scheme lossy://) whose uploads silently lose the second half of
    every file, as a broken network filesystem might."""

    scheme = "lossy"

    def __init__(self, **options):
        from lakeroutine.storage.local import LocalStorage

        self.local = LocalStorage()

    @staticmethod
    def path(url: str) -> str:
        return url[len("lossy://") :]

    def join(self, base, relpath):
        return "lossy://" + self.local.join(self.path(base), relpath)

    def check_location(self, base, *, write):
        self.local.check_location(self.path(base), write=write)

    def upload(self, local_file, url, *, overwrite=True):
        from pathlib import Path

        data = Path(local_file).read_bytes()
        target = Path(self.path(url))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data[: len(data) // 2])
        return self.local.stat(str(target))

    def delete_many(self, urls):
        self.local.delete_many(self.path(url) for url in urls)


class LossyPlugin:
    from lakeroutine import hookimpl

    @hookimpl
    def register_storages(self, register):
        register("lossy", LossyStorage)


def test_an_unverified_copy_fails_the_task_and_removes_nothing(lake):
    registry = load_plugins(entry_points=False, plugins=[LossyPlugin()])
    lake.write("a.csv", "0123456789")
    path = staging(lake, dump_directory=f"lossy://{lake.staging}")
    result = run_routine(path, registry=registry)
    assert result.status == "failed"
    assert "does not match its source (5 bytes, expected 10)" in result.tasks[0].error
    assert [t.status for t in result.tasks] == ["failed", "skipped"]
    assert lake.files(lake.landing) == {"a.csv": b"0123456789"}
    assert lake.files(lake.staging) == {}  # the unverified copy does not stay
    # Even post_staging run on its own finds nothing verified to remove.
    alone = run_routine(path, registry=registry, only=["StagingExecutor.post_staging"])
    assert alone.tasks[0].output["archived"] == 0
    assert lake.files(lake.landing) == {"a.csv": b"0123456789"}


def test_builtin_rename_csv_columns(lake, registry):
    lake.write("a.csv", "column1,column2\nana,30\n")
    run_routine(
        staging(
            lake,
            py_exec_path="lakeroutine.transforms:rename_csv_columns",
            py_exec_args={"mapper": {"column1": "name"}},
        ),
        registry=registry,
    )
    assert lake.files(lake.staging) == {"a.csv": b"name,column2\r\nana,30\r\n"}
