"""`lakeroutine schema` is a valid JSON Schema that accepts the examples and refuses typos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lakeroutine.plugins import load_plugins
from lakeroutine.schema import routine_schema

jsonschema = pytest.importorskip("jsonschema")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# plugin-hello's routine needs its own plugin, which the development install leaves out.
ROUTINES = ["quickstart/routine.json", "notebook/routine_config.json", "aws/routine.json"]


@pytest.fixture(scope="module")
def validator():
    schema = routine_schema(load_plugins())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("routine", ROUTINES)
def test_the_examples_are_valid(validator, routine):
    data = json.loads((EXAMPLES / routine).read_text())
    assert [e.message for e in validator.iter_errors(data)] == []


@pytest.mark.parametrize(
    "block",
    [
        {"params": {"parent_directory": "a", "dump_directory": "b", "max_workers": "lots"}},
        {"params": {"parent_directory": "a", "dump_directory": "b", "archive": "yes"}},
        {"params": {"parent_directory": "a", "dump_directory": "b"}, "tasks": ["transfr"]},
    ],
)
def test_mistakes_are_refused(validator, block):
    data = {"routine_name": "x", "executors": {"StagingExecutor": block}}
    assert list(validator.iter_errors(data))


def test_variables_stand_for_any_field(validator):
    block = {"params": {"parent_directory": "a", "dump_directory": "b", "max_workers": "${n}"}}
    data = {"routine_name": "x", "executors": {"StagingExecutor": block}}
    assert list(validator.iter_errors(data)) == []
