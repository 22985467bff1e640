"""A Redshift table may be given as ``"schema.name"`` wherever ``{"name", "schema"}`` is
taken, as awswrangler and Airflow's S3ToRedshiftOperator take it (issue 9, point 15)."""

from __future__ import annotations

from typing import Any

import pytest
from lakeroutine.errors import RoutineError
from sqlglot import parse_one

ROLE = "arn:aws:iam::123456789012:role/redshift-copy"


def copy_task(table: Any) -> dict[str, Any]:
    return {
        "task": "copy_from_s3",
        "args": {"table": table, "source": "s3://lake/staging/sales/", "iam_role": ROLE},
    }


@pytest.mark.parametrize(
    ("table", "target"),
    [
        ("lake.sales", '"lake"."sales"'),
        ({"name": "lake.sales"}, '"lake"."sales"'),
        ({"name": "sales", "schema": "lake"}, '"lake"."sales"'),
        ("sales", '"sales"'),
    ],
)
def test_copy_takes_a_table_as_schema_dot_name(
    run: Any, data_api: Any, rs_routine: Any, table: Any, target: str
) -> None:
    data_api.rule = lambda s: ("FINISHED", 7)
    result = run(rs_routine([copy_task(table)]))
    assert result.status == "succeeded", result.tasks[0].error
    (sql,) = data_api.sql
    assert parse_one(sql, dialect="redshift").this.sql(dialect="redshift") == target


def test_create_table_takes_schema_dot_name(run: Any, data_api: Any, rs_routine: Any) -> None:
    table = {"name": "lake.orders", "columns": [{"name": "id", "type": "bigint"}]}
    result = run(rs_routine([{"task": "create_table", "args": {"table": table}}]))
    assert result.status == "succeeded", result.tasks[0].error
    assert result.tasks[0].output["table"] == "lake.orders"
    assert 'CREATE TABLE IF NOT EXISTS "lake"."orders"' in data_api.sql[0]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("lake.sales.x", "'sales.x' is not a valid Redshift name"),
        ("lake.sa;les", "is not a valid Redshift name"),
        ({"name": "lake.sales", "schema": "other"}, "not both"),
    ],
)
def test_a_bad_qualified_name_is_refused_before_anything_is_sent(
    run: Any, data_api: Any, rs_routine: Any, table: Any, message: str
) -> None:
    with pytest.raises(RoutineError) as caught:
        run(rs_routine([copy_task(table)]))
    assert message in str(caught.value)
    assert data_api.sql == []


def test_the_json_schema_takes_the_string_form_too() -> None:
    import jsonschema
    from lakeroutine_redshift.models import CopyArgs

    schema = CopyArgs.model_json_schema()
    args = {"source": "s3://lake/x/", "iam_role": ROLE}
    jsonschema.validate({"table": "lake.sales", **args}, schema)
    jsonschema.validate({"table": {"name": "sales", "schema": "lake"}, **args}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"table": 5, **args}, schema)
