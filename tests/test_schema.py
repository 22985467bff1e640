"""`lakeroutine schema` is a valid JSON Schema that accepts the examples and refuses typos."""

from __future__ import annotations

import json
import subprocess
import sys
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


AS_MAPPING = {"id": "bigint", "label": "string"}
AS_LIST = [{"name": "id", "type": "bigint"}, {"name": "label", "type": "string"}]
TABLES = [  # every task that describes a table: (executor, task, the table's other fields)
    ("AthenaExecutor", "create_table", {"location": "s3://lake/t/"}),
    ("DuckDBExecutor", "create_table", {"location": "data/t/"}),
    ("RedshiftExecutor", "create_table", {}),
    ("AthenaExecutor", "iceberg_create_table", {"format": "iceberg"}),
    ("DuckDBExecutor", "iceberg_create_table", {"format": "iceberg"}),
    ("GlueExecutor", "create_table", {"location": "s3://lake/t/"}),
    ("GlueExecutor", "iceberg_create_table", {"format": "iceberg"}),
]


@pytest.fixture(scope="module")
def printed_schema():
    """The schema as ``lakeroutine schema`` prints it."""
    code = "import sys; from lakeroutine.cli import main; sys.exit(main(['schema']))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def table_validator(schema, executor: str, task: str):
    """A validator of the ``table`` argument of ``executor``'s ``task``, as the schema has it."""
    block = schema["properties"]["executors"]["properties"].get(executor)
    if block is None:
        pytest.skip(f"{executor} is not installed")
    variants = block["properties"]["tasks"]["items"]["anyOf"][1:]
    (variant,) = [v for v in variants if v["properties"]["task"] == {"const": task}]
    args = variant["properties"]["args"]
    while "$ref" in args:
        args = schema["$defs"][args["$ref"].removeprefix("#/$defs/")]
    return jsonschema.Draft202012Validator(
        {**args["properties"]["table"], "$defs": schema["$defs"]}
    )


@pytest.mark.parametrize(("executor", "task", "fields"), TABLES)
def test_a_table_takes_columns_in_either_form(printed_schema, executor, task, fields):
    validator = table_validator(printed_schema, executor, task)
    for columns in (AS_MAPPING, AS_LIST):
        table = {"name": "t", "columns": columns, **fields}
        assert [e.message for e in validator.iter_errors(table)] == [], columns
    for wrong in ("id bigint", [{"name": "id"}], []):  # neither form, or no column: refused
        assert list(validator.iter_errors({"name": "t", "columns": wrong, **fields})), wrong


@pytest.mark.parametrize("columns", [AS_MAPPING, AS_LIST], ids=["mapping", "list"])
def test_an_iceberg_table_takes_columns_in_either_form(tmp_path, capsys, columns):
    from lakeroutine.cli import main

    table = {"name": "t", "format": "iceberg", "columns": columns}
    task = {"task": "iceberg_create_table", "args": {"table": table}}
    block = {"executor": "DuckDBExecutor", "params": {"database": "lake.duckdb"}, "tasks": [task]}
    path = tmp_path / "routine.json"
    path.write_text(json.dumps({"routine_name": "ice", "executors": {"duck": block}}))
    assert main(["validate", str(path)]) == 0, capsys.readouterr()
