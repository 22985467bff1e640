"""Routine files: the notebook's format, the extensions, and every kind of bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from core_probe import ProbeExecutor, probe_registry
from lakeroutine.errors import RoutineError
from lakeroutine.routine import validate_routine

NOTEBOOK_ROUTINE = {
    "routine_name": "test_routine",
    "executors": {
        "StagingExecutor": {
            "params": {
                "parent_directory": "landing/",
                "dump_directory": "staging/",
                "archive_or_delete": "delete",
                "py_exec_path": "transforms/",
                "py_exec_args": {"mapper": {"column1": "name", "column2": "age"}},
            },
            "tasks": ["transfer", "post_staging"],
        }
    },
}


@pytest.fixture
def registry():
    return probe_registry()


def write(tmp_path: Path, data, name="routine.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def notebook_folder(tmp_path: Path) -> None:
    (tmp_path / "landing").mkdir()
    (tmp_path / "transforms").mkdir()
    (tmp_path / "transforms" / "py_exec.py").write_text("def test(): pass\ndef main(p, d): pass\n")


def test_notebook_format_verbatim_resolves_paths_against_the_file(tmp_path, registry):
    notebook_folder(tmp_path)
    routine = validate_routine(write(tmp_path, NOTEBOOK_ROUTINE), registry=registry)
    (step,) = routine.steps
    assert step.instance == step.executor_name == "StagingExecutor"
    assert [t.name for t in step.tasks] == ["transfer", "post_staging"]
    assert step.params.parent_directory == str(tmp_path / "landing") + "/"
    assert step.params.dump_directory == str(tmp_path / "staging") + "/"
    assert step.params.archive_or_delete == "delete"


def test_instances_task_objects_and_variables(tmp_path, registry, monkeypatch):
    monkeypatch.setenv("GREETING", "hi")
    routine = {
        "routine_name": "vars",
        "vars": {"who": "lake", "times": 3, "label": "${who}-${run_date}"},
        "executors": {
            "first": {
                "executor": "ProbeExecutor",
                "params": {"label": "${label}"},
                "tasks": ["ok"],
            },
            "second": {
                "executor": "ProbeExecutor",
                "params": {"label": "literal $${who}"},
                "tasks": [
                    {
                        "task": "echo",
                        "args": {"message": "${env:GREETING} ${who}", "count": "${times}"},
                        "retries": 2,
                        "retry_delay_s": 0.5,
                        "timeout_s": 9,
                    },
                    {"task": "echo", "args": {"message": "${env:MISSING_VAR:-fallback}"}},
                ],
            },
        },
    }
    built = validate_routine(write(tmp_path, routine), registry=registry, variables={"who": "cli"})
    first, second = built.steps
    assert first.cls is ProbeExecutor and second.cls is ProbeExecutor
    assert first.params.label == f"cli-{built.run_date}"  # --var wins over the file's vars
    assert second.params.label == "literal ${who}"
    echo, fallback = second.tasks
    assert echo.args.message == "hi cli" and echo.args.count == 3  # whole-string var keeps its type
    assert (echo.retries, echo.retry_delay_s, echo.timeout_s) == (2, 0.5, 9)
    assert fallback.args.message == "fallback"


def test_yaml_routines(tmp_path, registry):
    text = "routine_name: y\nexecutors:\n  ProbeExecutor:\n    tasks: [ok]\n"
    routine = validate_routine(write(tmp_path, text, "r.yaml"), registry=registry)
    assert routine.steps[0].tasks[0].name == "ok"


def problems_of(exc: RoutineError) -> list[RoutineError]:
    return exc.problems or [exc]


@pytest.mark.parametrize(
    ("routine", "expected"),
    [
        (
            {"routine_name": "x", "executors": {"ProbeExecutr": {"tasks": ["ok"]}}},
            ["executor 'ProbeExecutr'", "did you mean 'ProbeExecutor'?"],
        ),
        (
            {"routine_name": "x", "executors": {"ProbeExecutor": {"tasks": ["fial"]}}},
            ["task 'fial'", "did you mean 'fail'?"],
        ),
        (
            {"routine_name": "x", "executors": {"ProbeExecutor": {"tasks": ["_private"]}}},
            ["task '_private'", "private name"],
        ),
        (
            {"routine_name": "x", "executors": {"ProbeExecutor": {"tasks": ["__init__"]}}},
            ["task '__init__'", "dunder name"],
        ),
        (
            {
                "routine_name": "x",
                "executors": {"ProbeExecutor": {"params": {"fail_times": "many"}}},
            },
            ["field 'params.fail_times'", "integer"],
        ),
        (
            {"routine_name": "x", "executors": {"ProbeExecutor": {"params": {"colour": 1}}}},
            ["field 'params': unknown field 'colour'", "unknown field"],
        ),
        (
            {"routine_name": "x", "executors": {"ProbeExecutor": {"tasks": ["echo"]}}},
            ["task 'echo'", "field 'args.message'", "Field required"],
        ),
        (
            {
                "routine_name": "x",
                "executors": {"ProbeExecutor": {"tasks": [{"task": "ok", "args": {"a": 1}}]}},
            },
            ["task 'ok'", "takes no args"],
        ),
        (
            {"routine_name": "x", "executors": {"ProbeExecutor": {"params": {"label": "${nope}"}}}},
            ["executor 'ProbeExecutor'", "unknown variable ${nope}"],
        ),
        (
            {
                "routine_name": "x",
                "executors": {"ProbeExecutor": {"params": {"label": "${env:LR_UNSET_VAR}"}}},
            },
            ["environment variable 'LR_UNSET_VAR' is not set"],
        ),
        ({"executors": {}}, ["field 'routine_name'", "Field required"]),
        (
            {"routine_name": "x", "executors": {"ProbeExecutor": {"tasks": ["ok"]}}, "extra": 1},
            ["field 'extra'", "unknown field"],
        ),
    ],
)
def test_bad_routines_name_the_culprit(tmp_path, registry, routine, expected):
    path = write(tmp_path, routine)
    with pytest.raises(RoutineError) as caught:
        validate_routine(path, registry=registry)
    message = str(caught.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


def test_invalid_choice_and_missing_param_of_staging(tmp_path, registry):
    (tmp_path / "landing").mkdir()
    routine = {
        "routine_name": "x",
        "executors": {
            "StagingExecutor": {
                "params": {"parent_directory": "landing", "archive_or_delete": "shred"},
                "tasks": ["transfer"],
            }
        },
    }
    with pytest.raises(RoutineError) as caught:
        validate_routine(write(tmp_path, routine), registry=registry)
    message = str(caught.value)
    assert "field 'params.archive_or_delete'" in message and "'archive' or 'delete'" in message
    assert "field 'params.dump_directory'" in message and "Field required" in message


def test_every_problem_is_listed_at_once(tmp_path, registry):
    routine = {
        "routine_name": "x",
        "executors": {
            "A": {"executor": "Nope", "tasks": ["x"]},
            "ProbeExecutor": {"tasks": ["zzz"]},
        },
    }
    with pytest.raises(RoutineError) as caught:
        validate_routine(write(tmp_path, routine), registry=registry)
    problems = problems_of(caught.value)
    assert {p.executor for p in problems} == {"A", "ProbeExecutor"}


def test_malformed_json_gives_line_and_column(tmp_path, registry):
    path = write(tmp_path, '{\n  "routine_name": "x",\n  "executors": {,}\n}')
    with pytest.raises(RoutineError, match=r"malformed JSON at line 3, column 17"):
        validate_routine(path, registry=registry)


@pytest.mark.parametrize("text", ["[1, 2]", '"a string"', "42"])
def test_a_routine_must_be_an_object(tmp_path, registry, text):
    with pytest.raises(RoutineError, match="must be a JSON object"):
        validate_routine(write(tmp_path, text), registry=registry)


def test_missing_file(tmp_path, registry):
    with pytest.raises(RoutineError, match="file not found"):
        validate_routine(tmp_path / "nope.json", registry=registry)


def test_missing_transformation_folder(tmp_path, registry):
    (tmp_path / "landing").mkdir()
    data = json.loads(json.dumps(NOTEBOOK_ROUTINE))
    with pytest.raises(RoutineError) as caught:
        validate_routine(write(tmp_path, data), registry=registry)
    assert "field 'params.py_exec_path'" in str(caught.value)
    assert "transformation folder" in str(caught.value) and "does not exist" in str(caught.value)


@pytest.mark.parametrize(
    ("py_exec_path", "message"),
    [
        ("no_such_module_xyz:fn", "cannot be found"),
        ("missing.py:fn", "does not exist"),
        ("lakeroutine.transforms:csv_to_parquet", None),
    ],
)
def test_per_file_transformation_references(tmp_path, registry, py_exec_path, message):
    (tmp_path / "landing").mkdir()
    routine = {
        "routine_name": "x",
        "executors": {
            "StagingExecutor": {
                "params": {
                    "parent_directory": "landing",
                    "dump_directory": "staging",
                    "py_exec_path": py_exec_path,
                },
                "tasks": ["transfer"],
            }
        },
    }
    if message is None:
        validate_routine(write(tmp_path, routine), registry=registry)
        return
    with pytest.raises(RoutineError, match=re.escape(message)):
        validate_routine(write(tmp_path, routine), registry=registry)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"parent_directory": "lake", "dump_directory": "lake/staging"}, "inside parent_directory"),
        ({"parent_directory": "lake/in", "dump_directory": "lake/in"}, "the same location"),
        (
            {"parent_directory": "in", "dump_directory": "out", "archive_directory": "in/old"},
            "archive_directory and parent_directory must not overlap",
        ),
        (
            {"parent_directory": "in", "dump_directory": "out", "archive_directory": "out"},
            "must not overlap",
        ),
        (
            {"parent_directory": "s3://bucket/in", "dump_directory": "out"},
            "pip install ./plugins/s3 (from a clone of the lakeroutine repository; "
            "'lakeroutine-s3' on PyPI",
        ),
        (
            {"parent_directory": "gs://bucket/in", "dump_directory": "out"},
            "pip install ./plugins/gcs (from a clone of the lakeroutine repository; "
            "'lakeroutine-gcs' on PyPI",
        ),
        (
            {"parent_directory": "in", "dump_directory": "az://container/out"},
            "pip install ./plugins/azure (from a clone of the lakeroutine repository; "
            "'lakeroutine-azure' on PyPI",
        ),
        (
            {"parent_directory": "sftp://me@host/in", "dump_directory": "out"},
            "pip install ./plugins/sftp (from a clone of the lakeroutine repository; "
            "'lakeroutine-sftp' on PyPI",
        ),
    ],
)
def test_overlapping_or_unserved_locations(tmp_path, params, message):
    from lakeroutine.plugins import load_plugins

    registry = load_plugins(entry_points=False)  # no s3 plugin, whatever is installed
    routine = {"routine_name": "x", "executors": {"StagingExecutor": {"params": params}}}
    with pytest.raises(RoutineError, match=re.escape(message)):
        validate_routine(write(tmp_path, routine), registry=registry)
