"""State stores as plugins: the hook and its checks, which URL a routine uses, a store a
third party registers, the local run lock, state show/clear and broken state files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lakeroutine import hookimpl
from lakeroutine.cli import main
from lakeroutine.errors import PluginError, RoutineError
from lakeroutine.plugins import load_plugins
from lakeroutine.routine import validate_routine
from lakeroutine.state.sqlite import SqliteStateStore, open_local


@pytest.fixture(autouse=True)
def core_only(monkeypatch):
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "")
    for key in ("LAKEROUTINE_STATE", "LAKEROUTINE_STATE_DIR"):
        monkeypatch.delenv(key, raising=False)


def staging(lake, **top):
    return lake.routine_file(
        {
            "routine_name": "st",
            **top,
            "executors": {
                "StagingExecutor": {
                    "params": {"parent_directory": "landing", "dump_directory": "staging"},
                    "tasks": ["transfer", "post_staging"],
                }
            },
        }
    )


class Memo:
    """A third-party store for ``memo://NAME`` URLs (SQLite under a folder of its own)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.opened: list[str] = []

    @hookimpl
    def register_state_stores(self, register):
        def factory(url, *, routine):
            self.opened.append(url)
            return open_local(str(self.root / url.removeprefix("memo://")), routine=routine)

        register("memo", factory)


def test_a_store_registered_by_a_plugin_keeps_the_runs_state(lake, run, tmp_path):
    lake.write("a.csv", "1")
    memo = Memo(tmp_path / "memo")
    result = run(str(staging(lake, state="memo://x")), plugins=[memo])
    assert result.ok, result.tasks
    assert set(memo.opened) == {"memo://x"}  # checked at validation, used by the run
    assert (tmp_path / "memo" / "x" / "st.sqlite").exists()
    assert not (lake.root / ".lakeroutine").exists()


def test_two_plugins_cannot_claim_one_state_scheme(tmp_path):
    class Other:
        @hookimpl
        def register_state_stores(self, register):
            register("file", lambda url, *, routine: None)

    with pytest.raises(PluginError, match=r"state store file://, already registered by"):
        load_plugins(entry_points=False, plugins=[Other()])

    class Bad:
        @hookimpl
        def register_state_stores(self, register):
            register("x", "not callable")

    with pytest.raises(PluginError, match="not callable"):
        load_plugins(entry_points=False, plugins=[Bad()])


def test_an_unknown_scheme_names_the_plugin_to_install(lake):
    registry = load_plugins(entry_points=False)
    with pytest.raises(RoutineError, match=r"pip install ./plugins/s3 \(from a clone") as info:
        validate_routine(str(staging(lake, state="s3://lake/state/")), registry=registry)
    assert info.value.field == "state"
    with pytest.raises(RoutineError, match=r"no state store plugin serves gs://"):
        validate_routine(str(staging(lake)), registry=registry, state="gs://b/p/")


def test_which_state_url_wins(lake, tmp_path):
    registry = load_plugins(entry_points=False)
    path = str(staging(lake, state_dir="from_dir"))
    assert validate_routine(path, registry=registry).state_url == str(lake.root / "from_dir")
    env = {"LAKEROUTINE_STATE": str(tmp_path / "env")}
    assert validate_routine(path, registry=registry, env=env).state_url == env["LAKEROUTINE_STATE"]
    chosen = validate_routine(path, registry=registry, env=env, state="cli")
    assert chosen.state_url == str(lake.root / "cli")
    default = validate_routine(str(staging(lake)), registry=registry, env={})
    assert default.state_url == str(lake.root / ".lakeroutine" / "state")
    with pytest.raises(RoutineError, match="not both"):
        validate_routine(str(staging(lake, state="a", state_dir="b")), registry=registry)


def test_state_dir_keeps_working_and_show_reports_the_run(lake, capsys):
    lake.write("a.csv", "1")
    path = staging(lake, state_dir="kept")
    assert main(["run", str(path)]) == 0
    assert (lake.root / "kept" / "st.sqlite").exists()
    capsys.readouterr()
    assert main(["state", "show", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["last_run"]["status"] == "succeeded"
    assert shown["lock"] is None
    assert main(["state", "show", str(path)]) == 0
    assert "lock: free" in capsys.readouterr().out


def test_show_counts_the_journal_and_saved_ids_and_clear_forgets_them(lake, capsys):
    path = staging(lake)
    store = open_local(str(lake.root / ".lakeroutine" / "state"), routine="st")
    journal = store.records("staging", "StagingExecutor:abc")
    journal.put("a.csv", {"status": "staged"})
    journal.put("b.csv", {"status": "archiving"})
    store.set_value("StagingExecutor.transfer:123", "query_id", "q-9")
    store.close()
    assert main(["state", "show", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["journals"][0]["by_status"] == {"staged": 1, "archiving": 1}
    assert shown["tasks"] == {"StagingExecutor.transfer": {"query_id": "q-9"}}

    assert main(["state", "clear", str(path), "--task", "StagingExecutor.tranfser"]) == 2
    assert "did you mean 'StagingExecutor.transfer'" in capsys.readouterr().err
    assert main(["state", "clear", str(path), "--task", "StagingExecutor.transfer"]) == 0
    said = capsys.readouterr().out
    assert "forgot 1 value saved by task StagingExecutor.transfer (query_id)" in said
    assert main(["state", "show", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["tasks"] == {} and shown["journals"]
    assert main(["state", "clear", str(path)]) == 0
    capsys.readouterr()
    assert main(["state", "show", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["journals"] == []


def _hold_lock(lake, path):
    """Another process holding the routine's run lock (until killed)."""
    code = (
        "import sys, time; from lakeroutine.state.sqlite import open_local;"
        "from lakeroutine.state.lock import this_process;"
        f"folder = {str(lake.root / '.lakeroutine' / 'state')!r};"
        "lock = open_local(folder, routine='st').run_lock();"
        "lock.acquire(this_process('holder-run')); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"held"
    return holder


def test_a_live_run_holding_the_lock_stops_a_second_run_and_a_clear(lake, capsys):
    lake.write("a.csv", "1")
    path = staging(lake)
    holder = _hold_lock(lake, path)
    try:
        assert main(["run", str(path)]) == 2
        err = capsys.readouterr().err
        assert "another run holds the lock" in err and "holder-run" in err
        assert lake.files(lake.landing) == {"a.csv": b"1"} and not lake.staging.exists()
        assert main(["state", "show", str(path), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["lock"]["run_id"] == "holder-run"
        assert main(["state", "clear", str(path)]) == 2
        assert "--force" in capsys.readouterr().err
        assert main(["state", "clear", str(path), "--force", "--yes"]) == 0
    finally:
        holder.kill()
        holder.wait()
    # The operating system let go of the dead holder's lock: the next run goes ahead.
    assert main(["run", str(path)]) == 0


def test_wait_lets_a_run_start_once_the_other_ends(lake):
    lake.write("a.csv", "1")
    path = staging(lake)
    holder = _hold_lock(lake, path)
    started = time.monotonic()
    try:
        waiter = subprocess.Popen(
            [sys.executable, "-m", "lakeroutine.cli", "-q", "run", str(path), "--wait", "30"],
            env={**os.environ, "LAKEROUTINE_PLUGINS": ""},
        )
        time.sleep(1.0)
        assert waiter.poll() is None  # still waiting
    finally:
        holder.kill()
        holder.wait()
    assert waiter.wait(timeout=60) == 0
    assert time.monotonic() - started < 30
    assert lake.files(lake.staging) == {"a.csv": b"1"}


def test_a_corrupt_state_file_is_one_line_naming_it_and_clear_recovers(lake, capsys):
    lake.write("a.csv", "1")
    path = staging(lake)
    state_file = lake.root / ".lakeroutine" / "state" / "st.sqlite"
    state_file.parent.mkdir(parents=True)
    state_file.write_bytes(b"this is not a database" * 100)
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(state_file) in err and "lakeroutine state clear" in err
    assert lake.files(lake.landing) == {"a.csv": b"1"} and not lake.staging.exists()
    assert main(["state", "clear", str(path)]) == 0
    assert main(["run", str(path)]) == 0
    assert lake.files(lake.staging) == {"a.csv": b"1"}


def test_sqlite_records_scan_in_batches_in_key_order(tmp_path):
    store = SqliteStateStore(tmp_path / "s.sqlite")
    table = store.records("t", "s")
    for n in range(25):
        table.put(f"k{n:02d}", {"status": "staged" if n % 2 else "archiving", "n": n})
    table.delete(["k00", "k01"])
    assert [k for k, _ in table.scan(batch=4)] == [f"k{n:02d}" for n in range(2, 25)]
    assert table.count_by("status") == {"staged": 11, "archiving": 12}
    assert table.get("k03") == {"status": "staged", "n": 3}
    table.update(["k02", "k03", "gone"], {"status": "claiming"})
    assert table.get("k03") == {"status": "claiming", "n": 3} and table.get("gone") is None
    assert table.count_by("status") == {"staged": 10, "archiving": 11, "claiming": 2}
    assert table.add("new", {"source": "a"}) is None
    assert table.add("new", {"source": "b"}) == {"source": "a"}  # the first claim stays
    store.close()
