"""The parse-time validation cache (lakeroutine.parse_steps): a hit gives exactly the steps a
miss validated, anything validation read that changes is a miss, an invalid routine never
hits, no secret is written, and a cache that cannot be written only costs speed.

Each parse runs in a fresh process, as a scheduler's parse does; a hit is seen by what the
process imported (no routine model module, no plugin loading)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PARSE = r"""
import json, sys
from lakeroutine.parse_steps import parse_steps
name, steps = parse_steps(sys.argv[1], json.loads(sys.argv[2]))
print(json.dumps({
    "hit": "lakeroutine.routine" not in sys.modules and "lakeroutine.plugins" not in sys.modules,
    "name": name,
    "steps": [step.to_dict() for step in steps],
}))
"""

SECRET = "s3cr3t-Token-91f2c"


def parse(
    path: Path, cache: Path | str, vars: dict[str, Any] | None = None, **env: str
) -> dict[str, Any]:
    """The name and steps a fresh process's parse gives, and whether the cache answered."""
    environment = {**os.environ, "LAKEROUTINE_PARSE_CACHE": str(cache), **env}
    done = subprocess.run(
        [sys.executable, "-c", PARSE, str(path), json.dumps(vars or {})],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def failing_parse(path: Path, cache: Path, **env: str) -> str:
    """The error a fresh process's parse of an invalid routine ends with."""
    done = subprocess.run(
        [sys.executable, "-c", PARSE, str(path), "{}"],
        capture_output=True,
        text=True,
        env={**os.environ, "LAKEROUTINE_PARSE_CACHE": str(cache), **env},
    )
    assert done.returncode != 0
    return done.stderr.strip().splitlines()[-1]


def routine(folder: Path, **extra_args: Any) -> Path:
    """A DuckDB block reading ``${env:LR_CACHE_DB}``, a secret var and a ``sql_file``."""
    (folder / "count.sql").write_text("SELECT 1 AS n", encoding="utf-8")
    spec = {
        "routine_name": "cached",
        "vars": {"token": "${env:LR_CACHE_TOKEN}"},
        "executors": {
            "duck": {
                "executor": "DuckDBExecutor",
                "params": {"database": "${env:LR_CACHE_DB}"},
                "tasks": [
                    "create_database",
                    {"task": "run_query", "args": {"sql": "SELECT '${token}' AS t"}},
                    {
                        "task": "run_query",
                        "args": {"sql_file": "count.sql", **extra_args},
                        "retries": 2,
                        "retry_delay_s": 1.5,
                    },
                ],
            }
        },
    }
    path = folder / "routine.json"
    path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    return path


def misses_then_hits(path: Path, cache: Path, **env: str) -> None:
    """A parse misses (validates and records), and the same parse next hits."""
    assert not parse(path, cache, **env)["hit"]
    assert parse(path, cache, **env)["hit"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"LR_CACHE_DB": str(tmp_path / "lake.duckdb"), "LR_CACHE_TOKEN": SECRET}


def test_a_hit_gives_exactly_the_steps_the_miss_validated(tmp_path: Path, env) -> None:
    path, cache = routine(tmp_path), tmp_path / "cache"
    miss = parse(path, cache, **env)
    hit = parse(path, cache, **env)
    assert (miss["hit"], hit["hit"]) == (False, True)
    assert hit["name"] == miss["name"] == "cached"
    assert hit["steps"] == miss["steps"]
    assert [step["id"] for step in hit["steps"]] == [
        "duck.create_database",
        "duck.run_query",
        "duck.run_query#2",
    ]
    assert (hit["steps"][2]["retries"], hit["steps"][2]["retry_delay_s"]) == (2, 1.5)


def test_whatever_validation_read_that_changes_is_a_miss(tmp_path: Path, env) -> None:
    path, cache = routine(tmp_path), tmp_path / "cache"
    assert not parse(path, cache, **env)["hit"]
    assert parse(path, cache, **env, LR_UNREAD="anything")["hit"]  # a variable it never read
    assert not parse(path, cache, **{**env, "LR_CACHE_TOKEN": "other-token"})["hit"]
    assert not parse(path, cache, **{**env, "LR_CACHE_DB": str(tmp_path / "b.duckdb")})["hit"]
    assert not parse(path, cache, {"token": "given"}, **env)["hit"]  # variables passed
    assert parse(path, cache, {"token": "given"}, **env)["hit"]
    (tmp_path / "count.sql").write_text("SELECT 2 AS n", encoding="utf-8")  # a file it read
    assert not parse(path, cache, **env)["hit"]
    assert parse(path, cache, **env)["hit"]
    routine(tmp_path, vars={"x": 1})  # the routine edited (count.sql written again, too)
    assert not parse(path, cache, **env)["hit"]
    assert parse(path, cache, **env)["hit"]


def test_another_plugin_version_is_a_miss(tmp_path: Path, env) -> None:
    """A lakeroutine distribution upgraded where Python imports from: its metadata folder
    renamed with the new version, as an installer leaves it."""
    site = tmp_path / "site"
    (site / "lr_cache_probe.py").parent.mkdir()
    (site / "lr_cache_probe.py").write_text("", encoding="utf-8")

    def install(version: str) -> None:
        for old in site.glob("*.dist-info"):
            for file in old.iterdir():
                file.unlink()
            old.rmdir()
        info = site / f"lakeroutine_cache_probe-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: lakeroutine-cache-probe\nVersion: {version}\n"
        )
        (info / "entry_points.txt").write_text("[lakeroutine]\ncache_probe = lr_cache_probe\n")

    install("1.0")
    path, cache = routine(tmp_path), tmp_path / "cache"
    pythonpath = {"PYTHONPATH": str(site)}
    misses_then_hits(path, cache, **env, **pythonpath)
    install("1.1")
    misses_then_hits(path, cache, **env, **pythonpath)


def test_another_plugin_version_in_a_zip_on_the_path_is_a_miss(tmp_path: Path, env) -> None:
    """A lakeroutine plugin imported from a zip on sys.path, the zip replaced by one of
    another version: the distributions installed changed, so the entry is not used."""
    import zipfile

    site = tmp_path / "plugins.zip"

    def install(version: str) -> None:
        building = tmp_path / "building.zip"
        with zipfile.ZipFile(building, "w") as archive:
            archive.writestr("lr_cache_probe.py", "")
            info = f"lakeroutine_cache_probe-{version}.dist-info"
            archive.writestr(
                f"{info}/METADATA",
                f"Metadata-Version: 2.1\nName: lakeroutine-cache-probe\nVersion: {version}\n",
            )
            archive.writestr(
                f"{info}/entry_points.txt", "[lakeroutine]\ncache_probe = lr_cache_probe\n"
            )
        os.replace(building, site)

    install("1.0")
    path, cache = routine(tmp_path), tmp_path / "cache"
    pythonpath = {"PYTHONPATH": str(site)}
    misses_then_hits(path, cache, **env, **pythonpath)
    install("1.10")
    misses_then_hits(path, cache, **env, **pythonpath)


def test_another_plugin_version_as_an_unzipped_egg_is_a_miss(tmp_path: Path, env) -> None:
    """A lakeroutine plugin installed as an egg folder on sys.path (its ``EGG-INFO``), put
    there by easy-install.pth: another version is another folder, so the entry is not used."""

    def egg(version: str) -> str:
        folder = tmp_path / f"lakeroutine_cache_probe-{version}-py3.egg"
        (folder / "EGG-INFO").mkdir(parents=True)
        (folder / "lr_cache_probe.py").write_text("", encoding="utf-8")
        (folder / "EGG-INFO" / "PKG-INFO").write_text(
            f"Metadata-Version: 1.1\nName: lakeroutine-cache-probe\nVersion: {version}\n"
        )
        (folder / "EGG-INFO" / "entry_points.txt").write_text(
            "[lakeroutine]\ncache_probe = lr_cache_probe\n"
        )
        return str(folder)

    path, cache = routine(tmp_path), tmp_path / "cache"
    first, second = {"PYTHONPATH": egg("1.0")}, {"PYTHONPATH": egg("1.1")}
    misses_then_hits(path, cache, **env, **first)
    misses_then_hits(path, cache, **env, **second)


def test_an_invalid_routine_never_hits(tmp_path: Path, env) -> None:
    path, cache = routine(tmp_path, row_limit="many"), tmp_path / "cache"
    first = failing_parse(path, cache, **env)
    assert str(path) in first and "duck" in first and "run_query" in first, first
    assert failing_parse(path, cache, **env) == first
    assert not list(cache.glob("*.json"))


def test_no_secret_is_written_and_the_key_is_private(tmp_path: Path, env) -> None:
    path, cache = routine(tmp_path), tmp_path / "cache"
    parse(path, cache, **env)
    assert parse(path, cache, **env)["hit"]
    written = [file for file in cache.iterdir() if file.is_file()]
    assert {file.suffix for file in written} == {".json", ""}
    for file in written:
        content = file.read_bytes()
        assert SECRET.encode() not in content and SECRET.encode().hex().encode() not in content
    assert stat.S_IMODE((cache / "key").stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700


def test_a_cache_that_cannot_be_written_only_costs_speed(tmp_path: Path, env) -> None:
    path = routine(tmp_path)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    for _ in range(2):  # each parse validates, and gives the same steps
        found = parse(path, blocked / "cache", **env)
        assert not found["hit"] and len(found["steps"]) == 3
    assert not parse(path, "off", **env)["hit"]


def test_validate_and_run_never_use_the_cache(tmp_path: Path, env) -> None:
    path, cache = routine(tmp_path), tmp_path / "cache"
    cli = Path(sys.executable).parent / "lakeroutine"
    for command in ("validate", "run"):
        done = subprocess.run(
            [str(cli), command, str(path)],
            capture_output=True,
            text=True,
            env={**os.environ, **env, "LAKEROUTINE_PARSE_CACHE": str(cache)},
        )
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "lake.duckdb").exists()  # it ran
    assert not cache.exists()


def test_files_landing_in_a_folder_the_routine_names_keep_the_entry(tmp_path: Path) -> None:
    """Validation checks what a named path is (a folder), not its content: a landing folder
    filling up between parses is still a hit; the folder gone is a miss."""
    spec = {
        "routine_name": "landing",
        "executors": {
            "StagingExecutor": {
                "params": {
                    "parent_directory": str(tmp_path / "landing") + "/",
                    "dump_directory": str(tmp_path / "staging") + "/",
                    "archive_or_delete": "delete",
                },
                "tasks": ["transfer", "post_staging"],
            }
        },
    }
    (tmp_path / "landing").mkdir()
    path, cache = tmp_path / "routine.json", tmp_path / "cache"
    path.write_text(json.dumps(spec), encoding="utf-8")
    assert not parse(path, cache)["hit"]
    (tmp_path / "landing" / "a.csv").write_text("x\n1\n", encoding="utf-8")
    assert parse(path, cache)["hit"]
    (tmp_path / "landing" / "a.csv").unlink()
    (tmp_path / "landing").rmdir()
    assert not parse(path, cache)["hit"]


def test_entries_older_than_30_days_go_when_one_is_written(tmp_path: Path, env) -> None:
    path, cache = routine(tmp_path), tmp_path / "cache"
    parse(path, cache, **env)
    (old,) = cache.glob("*.json")
    month_ago = old.stat().st_mtime - 31 * 24 * 3600
    os.utime(old, (month_ago, month_ago))
    assert not parse(path, cache, {"token": "other"}, **env)["hit"]  # a new entry written
    assert not old.exists() and len(list(cache.glob("*.json"))) == 1


OPENS = r"""
import os, sys
target, opened = os.path.realpath(sys.argv[1]), []
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes)):
        if os.path.realpath(os.fsdecode(args[0])) == target:
            opened.append(event)
sys.addaudithook(hook)
from lakeroutine.parse_steps import parse_steps
parse_steps(sys.argv[1])
print(len(opened))
"""


def test_a_miss_validates_the_bytes_it_is_keyed_on(tmp_path: Path, env) -> None:
    """The first parse reads the routine file once: the bytes its entry is named by are
    the bytes validated (a file changed between a read and a second read cannot be
    recorded valid under the first one's name)."""
    path, cache = routine(tmp_path), tmp_path / "cache"
    environment = {**os.environ, "LAKEROUTINE_PARSE_CACHE": str(cache), **env}
    done = subprocess.run(
        [sys.executable, "-c", OPENS, str(path)], capture_output=True, text=True, env=environment
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1"]
    assert parse(path, cache, **env)["hit"]  # and it was recorded
