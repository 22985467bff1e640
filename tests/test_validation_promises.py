"""`validate` and `--dry-run` check what `run` would find, run no user code, and turn
malformed input into one message with exit status 2 (issue 9, points 1, 2, 4 and 12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from lakeroutine.cli import main


@pytest.fixture(autouse=True)
def core_only(monkeypatch):
    monkeypatch.setenv("LAKEROUTINE_PLUGINS", "")


def staging(lake, tasks=("transfer", "post_staging"), **params):
    return lake.routine_file(
        {
            "routine_name": "promises",
            "executors": {
                "StagingExecutor": {
                    "params": {
                        "parent_directory": "landing",
                        "dump_directory": "staging",
                        **params,
                    },
                    "tasks": list(tasks),
                }
            },
        }
    )


def one_block(lake, executor, params, tasks):
    """A routine file of one executor block."""
    block = {"params": params, "tasks": tasks}
    return lake.routine_file({"routine_name": "x", "executors": {executor: block}})


# -- point 1: the preflight checks run at validate and --dry-run --------------------------


@pytest.mark.parametrize("argv", [["validate"], ["run", "--dry-run"], ["validate", "--offline"]])
def test_a_missing_landing_folder_fails_validate_and_dry_run(lake, capsys, argv):
    path = staging(lake)
    lake.landing.rmdir()
    assert main([argv[0], str(path), *argv[1:]]) == 2
    err = capsys.readouterr().err
    assert "field 'params.parent_directory'" in err and "does not exist" in err
    assert not lake.staging.exists()


def test_a_network_check_fails_validate_and_offline_skips_it(
    moto_endpoint, lake, capsys, monkeypatch
):
    pytest.importorskip("lakeroutine_athena")
    monkeypatch.delenv("LAKEROUTINE_PLUGINS")
    path = lake.routine_file(
        {
            "routine_name": "offline",
            "executors": {
                "AthenaExecutor": {
                    "params": {
                        "workgroup": "no_such_workgroup",
                        "output_location": "s3://results/",
                    },
                    "tasks": ["create_database"],
                }
            },
        }
    )
    assert main(["validate", str(path)]) == 2
    assert "no_such_workgroup" in capsys.readouterr().err
    assert main(["run", str(path), "--dry-run"]) == 2
    capsys.readouterr()
    assert main(["validate", str(path), "--offline"]) == 0
    assert "offline, not checked: AthenaExecutor" in capsys.readouterr().out
    assert main(["run", str(path), "--dry-run", "--offline"]) == 0
    assert capsys.readouterr().out == "would run AthenaExecutor.create_database\n"
    assert main(["run", str(path), "--offline"]) == 2  # a real run checks everything
    assert "--offline goes with --dry-run" in capsys.readouterr().err


# -- point 2: transformations resolved without importing ----------------------------------


@pytest.mark.parametrize(
    ("py_exec_path", "expected"),
    [
        (
            "lakeroutine.transforms:csv_to_parqet",
            "has no function 'csv_to_parqet' (did you mean 'csv_to_parquet'?)",
        ),
        ("lakeroutine.transformz:csv_to_parquet", "cannot be found (no lakeroutine.transformz)"),
        ("no_such_package_xyz.mod:f", "module 'no_such_package_xyz' cannot be found"),
        ("t.py:nope", "has no function 'nope'"),
        ("missing.py:f", "missing.py does not exist"),
    ],
)
def test_a_misspelt_transformation_is_exit_2_naming_it(lake, capsys, py_exec_path, expected):
    (lake.root / "t.py").write_text("def f(source, target):\n    pass\n")
    path = staging(lake, py_exec_path=py_exec_path)
    assert main(["validate", str(path)]) == 2
    assert main(["run", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "field 'params.py_exec_path'" in err and expected in err
    assert "Traceback" not in err


def test_validate_runs_no_user_code(lake, capsys, monkeypatch):
    """A dotted module's package __init__, the module and a file.py are parsed, never run."""
    marker = lake.root / "ran"
    boom = f"open({str(marker)!r}, 'a').write(__name__)\nraise SystemExit('imported!')\n"
    package = lake.root / "pkg" / "sub"
    package.mkdir(parents=True)
    (lake.root / "pkg" / "__init__.py").write_text(boom)
    (package / "__init__.py").write_text(boom)
    (package / "mod.py").write_text(boom + "def to_json(source, target):\n    pass\n")
    (lake.root / "script.py").write_text(boom + "def f(source, target):\n    pass\n")
    monkeypatch.syspath_prepend(str(lake.root))
    for py_exec_path in ("pkg.sub.mod:to_json", "script.py:f"):
        path = staging(lake, py_exec_path=py_exec_path)
        assert main(["validate", str(path)]) == 0, capsys.readouterr().err
        assert main(["run", str(path), "--dry-run"]) == 0
    assert not marker.exists()
    assert "pkg" not in sys.modules and "pkg.sub.mod" not in sys.modules
    path = staging(lake, py_exec_path="pkg.sub.mod:to_jsn")
    assert main(["validate", str(path)]) == 2
    assert "has no function 'to_jsn' (did you mean 'to_json'?)" in capsys.readouterr().err
    assert not marker.exists()


def test_the_built_in_transformation_is_not_imported_by_validate(lake):
    path = staging(lake, py_exec_path="lakeroutine.transforms:csv_to_parquet")
    code = (
        "import sys\nfrom lakeroutine.cli import main\n"
        f"code = main(['validate', {str(path)!r}])\n"
        "print(code, 'lakeroutine.transforms' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split()[-2:] == ["0", "False"], out.stderr


def test_a_missing_optional_dependency_is_named_at_validation(lake, capsys):
    """A module declares what a function needs; validate says what to install."""
    (lake.root / "needs.py").write_text(
        textwrap.dedent(
            """
            __lakeroutine_requires__ = {"f": {"no_such_dist_xyz": "pip install xyz"}}

            def f(source, target):
                import no_such_dist_xyz
            """
        )
    )
    path = staging(lake, py_exec_path="needs.py:f")
    assert main(["validate", str(path)]) == 2
    assert "needs no_such_dist_xyz: pip install xyz" in capsys.readouterr().err


def test_csv_to_parquet_declares_pyarrow():
    from lakeroutine.staging.source_check import _scan, _version, find_module_file

    origin = find_module_file("lakeroutine.transforms")
    assert origin is not None
    _names, _open, requires = _scan(origin, *_version(origin))
    assert "pyarrow" in requires["csv_to_parquet"]


# -- point 4: malformed input is exit 2 with one message ----------------------------------


def test_json_nested_5000_deep_is_one_message(lake, capsys):
    path = lake.root / "deep.json"
    path.write_text('{"routine_name": "x", "vars": {"a": ' + "[" * 5000 + "]" * 5000 + "}}")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nested deeper than" in err and "Traceback" not in err


def test_a_dict_routine_nested_too_deep_is_a_routine_error(lake):
    from lakeroutine.errors import RoutineError
    from lakeroutine.orchestrator import run_routine

    deep: list = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(RoutineError, match="nested deeper than"):
        run_routine({"routine_name": "x", "vars": {"a": deep}, "executors": {}})


@pytest.mark.parametrize("where", ["a_file/report.json", "folder"])
def test_an_unwritable_report_stops_the_run_before_anything_moves(lake, capsys, where):
    lake.write("a.csv", "1")
    (lake.root / "a_file").write_text("")
    (lake.root / "folder").mkdir()
    report = lake.root / where
    assert main(["run", str(staging(lake)), "--report", str(report)]) == 2
    assert "--report" in capsys.readouterr().err
    assert lake.files(lake.landing) == {"a.csv": b"1"} and not lake.staging.exists()


def test_a_report_in_a_read_only_folder_is_refused_before_running(lake, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    lake.write("a.csv", "1")
    folder = lake.root / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert main(["run", str(staging(lake)), "--report", str(folder / "r.json")]) == 2
    finally:
        folder.chmod(0o700)
    assert "cannot write a file there" in capsys.readouterr().err
    assert lake.files(lake.landing) == {"a.csv": b"1"}


def test_a_report_where_no_file_can_be_made_is_refused_even_for_root(lake, capsys):
    # /proc refuses new folders and files to everyone, root included: a permission check
    # passes there, only writing proves it
    lake.write("a.csv", "1")
    report = "/proc/no/such/report.json"
    assert main(["run", str(staging(lake)), "--report", report]) == 2
    err = capsys.readouterr().err
    assert f"--report {report}: cannot write a file there" in err
    assert "Traceback" not in err and "succeeded" not in err
    assert lake.files(lake.landing) == {"a.csv": b"1"} and not lake.staging.exists()


def test_a_report_folder_is_made_before_the_run_and_the_probe_leaves_nothing(lake, capsys):
    lake.write("a.csv", "1")
    report = lake.root / "new" / "deeper" / "r.json"
    assert main(["run", str(staging(lake)), "--report", str(report), "--no-outputs"]) == 0
    assert [p.name for p in report.parent.iterdir()] == ["r.json"]


# -- point 12: errors name the user's field ------------------------------------------------


def test_a_misspelt_task_field_is_one_line_naming_it(lake, capsys):
    path = lake.routine_file(
        {
            "routine_name": "x",
            "executors": {
                "StagingExecutor": {
                    "params": {"parent_directory": "landing", "dump_directory": "staging"},
                    "tasks": ["transfer", {"task": "post_staging", "retires": 2}],
                }
            },
        }
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"lakeroutine: error: {path}, executor 'StagingExecutor', field 'tasks[1]': "
        "unknown field 'retires' (did you mean 'retries'?)\n"
    )


def test_a_task_that_is_neither_name_nor_object_is_one_message(lake, capsys):
    path = lake.routine_file(
        {"routine_name": "x", "executors": {"StagingExecutor": {"tasks": [5]}}}
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "field 'tasks[0]': a task is a name or an object" in err
    assert "str" not in err.replace("StagingExecutor", "")


def test_global_options_work_after_the_subcommand(lake, capsys):
    path = lake.routine_file({"routine_name": "x", "executors": {"Nope": {}}})
    assert main(["validate", str(path), "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err
    lake.write("a.csv", "1")
    assert main(["run", str(staging(lake)), "-q", "--no-outputs"]) == 0
    assert capsys.readouterr().err == ""


def test_validate_help_documents_its_arguments(capsys):
    assert main(["validate", "--help"]) == 0
    out = capsys.readouterr().out
    for fragment in ("routine file", "--var K=V", "--offline", "--debug", "preflight"):
        assert fragment in out


def test_report_json_is_written_and_parsable_after_checks(lake):
    lake.write("a.csv", "1")
    report = lake.root / "new" / "r.json"
    assert main(["run", str(staging(lake)), "--report", str(report), "--no-outputs"]) == 0
    assert json.loads(report.read_text())["status"] == "succeeded"


def test_a_misspelt_sql_field_says_unknown_field_first(lake, run, monkeypatch):
    from lakeroutine.errors import RoutineError

    pytest.importorskip("lakeroutine_duckdb")
    monkeypatch.delenv("LAKEROUTINE_PLUGINS")
    routine = {
        "routine_name": "x",
        "executors": {
            "DuckDBExecutor": {
                "params": {"database": "db.duckdb"},
                "tasks": [{"task": "run_query", "args": {"sqll": "SELECT 1"}}],
            }
        },
    }
    with pytest.raises(RoutineError) as caught:
        run(lake.routine_file(routine))
    assert str(caught.value).endswith("field 'args': unknown field 'sqll' (did you mean 'sql'?)"), (
        str(caught.value)
    )


# -- point 5: a secret never leaves the process --------------------------------------------

PASSWORD = "hunter2-proxy-Pa55"
TOKEN = "tok-9f8e7d6c5b4a"


def test_a_secret_in_an_unreachable_endpoint_is_masked_on_every_line(lake, capsys, monkeypatch):
    pytest.importorskip("lakeroutine_athena")
    monkeypatch.delenv("LAKEROUTINE_PLUGINS")
    monkeypatch.setenv("PROXY_PASSWORD", PASSWORD)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEKEYFORTEST01")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-key-for-this-test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    params = {
        "endpoint_url": "http://user:${env:PROXY_PASSWORD}@127.0.0.1:9/",
        "max_attempts": 1,
        "output_location": "s3://results/",
    }
    path = one_block(lake, "AthenaExecutor", params, ["create_database"])
    report = lake.root / "report.json"
    for argv in (
        ["validate", str(path)],
        ["--debug", "validate", str(path)],
        ["run", str(path), "--report", str(report)],
        ["run", str(path), "--dry-run"],
    ):
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert "cannot reach Athena" in captured.err
        assert PASSWORD not in captured.err + captured.out, argv


def test_a_secret_read_by_a_sql_file_is_masked_in_errors_logs_and_report(lake, capsys, monkeypatch):
    pytest.importorskip("lakeroutine_duckdb")
    monkeypatch.delenv("LAKEROUTINE_PLUGINS")
    monkeypatch.setenv("API_TOKEN", TOKEN)
    (lake.root / "ok.sql").write_text("SELECT '${env:API_TOKEN}' AS token")
    (lake.root / "bad.sql").write_text("SELECT '${env:API_TOKEN}' AS token, no_such_column")
    tasks = [
        {"task": "run_query", "args": {"sql_file": "ok.sql"}},
        {"task": "run_query", "args": {"sql_file": "bad.sql"}},
    ]
    path = lake.routine_file(
        {
            "routine_name": "secret_sql_file",
            "executors": {"DuckDBExecutor": {"params": {"database": "db.duckdb"}, "tasks": tasks}},
        }
    )
    report = lake.root / "report.json"
    assert main(["--debug", "run", str(path), "--report", str(report)]) == 1
    captured = capsys.readouterr()
    text = report.read_text()
    assert "no_such_column" in captured.err and "no_such_column" in text  # the error is there
    assert '"***"' in text  # the preview row, masked
    for where in (captured.err, captured.out, text):
        assert TOKEN not in where
    for state in (lake.root / ".lakeroutine").rglob("*"):
        if state.is_file():
            assert TOKEN.encode() not in state.read_bytes()


# -- point 3: numbers are bounded ----------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"retry_delay_s": 1e10}, "retry_delay_s"),
        ({"retries": 10**6}, "retries"),
        ({"timeout_s": 1e12}, "timeout_s"),
    ],
)
def test_task_numbers_past_their_maximum_are_exit_2(lake, capsys, entry, field):
    path = lake.routine_file(
        {
            "routine_name": "x",
            "executors": {
                "StagingExecutor": {
                    "params": {"parent_directory": "landing", "dump_directory": "staging"},
                    "tasks": [{"task": "transfer", **entry}],
                }
            },
        }
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"field 'tasks[0].{field}': Input should be less than or equal to" in err


@pytest.mark.parametrize(
    ("plugin", "executor", "params"),
    [
        ("lakeroutine_athena", "AthenaExecutor", {}),
        ("lakeroutine_glue", "GlueExecutor", {}),
        ("lakeroutine_redshift", "RedshiftExecutor", {"workgroup_name": "w", "database": "d"}),
    ],
)
def test_every_aws_wait_has_a_finite_maximum(lake, capsys, monkeypatch, plugin, executor, params):
    pytest.importorskip(plugin)
    monkeypatch.delenv("LAKEROUTINE_PLUGINS")
    path = lake.routine_file(
        {
            "routine_name": "x",
            "executors": {executor: {"params": {**params, "max_wait_s": 1e10}, "tasks": []}},
        }
    )
    assert main(["validate", str(path), "--offline"]) == 2
    assert "field 'params.max_wait_s': Input should be less than or equal to 604800" in (
        capsys.readouterr().err
    )


# -- points 8 and 11: what a newcomer reads ------------------------------------------------


def test_a_known_executor_that_is_not_installed_says_what_to_install(lake, capsys):
    path = lake.routine_file(
        {
            "routine_name": "x",
            "executors": {"AthenaExecutor": {"params": {}, "tasks": ["create_database"]}},
        }
    )
    assert main(["validate", str(path)]) == 2  # LAKEROUTINE_PLUGINS="": the core only
    err = capsys.readouterr().err
    assert (
        "AthenaExecutor is not installed: pip install ./plugins/athena (from a clone of the "
        "lakeroutine repository; 'lakeroutine-athena' on PyPI once published)"
    ) in err
    assert "did you mean" not in err


def test_a_run_ends_with_a_summary_and_says_each_failure_once(lake, capsys):
    script = lake.root / "flaky.py"
    script.write_text("def f(source, target):\n    raise ValueError('boom-42')\n")
    lake.write("a.csv", "1")
    params = {
        "parent_directory": "landing",
        "dump_directory": "staging",
        "py_exec_path": "flaky.py:f",
    }
    path = one_block(
        lake, "StagingExecutor", params, [{"task": "transfer", "retries": 1}, "post_staging"]
    )
    assert main(["run", str(path)]) == 1
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert err.count("boom-42") == 2  # the retry's WARNING, then the failure: once each
    [retry] = [line for line in lines if "retrying" in line]
    assert " WARNING " in retry and "attempt 1 of 2" in retry
    [failed] = [line for line in lines if "boom-42" in line and " ERROR " in line]
    assert "task StagingExecutor.transfer failed" in failed
    assert any(" INFO " in ln and "StagingExecutor.post_staging skipped" in ln for ln in lines)
    assert "2 tasks: 1 failed, 1 skipped in " in lines[-1]


def test_a_secret_is_masked_in_logs_reaching_any_handler(lake, caplog, monkeypatch):
    """Through the Python API (no CLI handler), a secret in what a plugin logs is masked
    for the program's own handlers."""
    import logging

    from lakeroutine.orchestrator import run_routine

    monkeypatch.setenv("DROP_TOKEN", TOKEN)
    lake.write("a.csv", "1")
    params = {"parent_directory": "landing", "dump_directory": "staging/${env:DROP_TOKEN}"}
    path = one_block(lake, "StagingExecutor", params, ["transfer"])
    with caplog.at_level(logging.INFO):
        result = run_routine(path)
    assert result.ok
    assert (lake.root / "staging" / TOKEN / "a.csv").exists()  # the value was used
    assert "staging/***" in caplog.text and TOKEN not in caplog.text
    assert TOKEN not in str(result.to_dict())
