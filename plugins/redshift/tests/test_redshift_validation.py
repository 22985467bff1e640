"""Bad input is a RoutineError naming the field, and nothing reaches the Data API."""

from __future__ import annotations

from typing import Any

import pytest
from lakeroutine.errors import RoutineError

ROLE = "arn:aws:iam::123456789012:role/redshift-loader"


def _copy(**args: Any) -> dict[str, Any]:
    base = {"table": {"name": "sales", "schema": "lake"}, "source": "s3://b/p/", "iam_role": ROLE}
    return {"task": "copy_from_s3", "args": {**base, **args}}


@pytest.mark.parametrize(
    ("params", "tasks", "field", "message"),
    [
        ({"cluster_identifier": None}, ["execute_sql"], "params", "exactly one of"),
        ({"workgroup_name": "wg", "db_user": None}, [], "params", "exactly one of"),
        ({"db_user": None}, [], "params", "needs db_user or secret_arn"),
        (
            {"secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"},
            [],
            "params",
            "not both",
        ),
        ({"secret_arn": "my-password", "db_user": None}, [], "params.secret_arn", "secret ARN"),
        ({"poll_interval_s": 0}, [], "params.poll_interval_s", "greater than 0"),
        ({}, [_copy(iam_role="redshift-loader")], "args.iam_role", "not an IAM role ARN"),
        ({}, [_copy(source="s3:///landing/")], "args.source", "no bucket name"),
        ({}, [_copy(source="/tmp/x")], "args.source", "must be an s3:// URL"),
        ({}, [_copy(mode="upsert")], "args", "needs keys"),
        ({}, [_copy(keys=["id"])], "args", "only used by mode 'upsert'"),
        (
            {},
            [_copy(table={"name": 'sales"; DROP TABLE users; --'})],
            "args.table.name",
            "not a valid Redshift name",
        ),
        ({}, [_copy(region="us-east-1' x")], "args", "not an AWS region"),
        (
            {},
            [
                {
                    "task": "create_table",
                    "args": {
                        "table": {
                            "name": "t",
                            "columns": [{"name": "id", "type": "int); DROP TABLE x; --"}],
                        }
                    },
                }
            ],
            "args.table.columns[0].type",
            "not a Redshift column type",
        ),
        (
            {},
            [
                {
                    "task": "create_table",
                    "args": {
                        "table": {
                            "name": "t",
                            "distkey": "nope",
                            "columns": [{"name": "id", "type": "bigint"}],
                        }
                    },
                }
            ],
            "args.table",
            "not a column of the table",
        ),
        (
            {},
            [{"task": "execute_sql", "args": {"sql": "select :a", "parameters": {"b": 1}}}],
            "args",
            "no value: a",
        ),
        ({}, [{"task": "execute_sql", "args": {}}], "args", "exactly one of sql or sql_file"),
        (
            {},
            [{"task": "execute_sql", "args": {"sql_file": "missing.sql"}}],
            "args.sql_file",
            "does not exist",
        ),
        (
            {},
            [
                {
                    "task": "unload_to_s3",
                    "args": {
                        "query": "select 1; drop table x",
                        "destination": "s3://b/out/",
                        "iam_role": ROLE,
                    },
                }
            ],
            "args",
            "exactly one SELECT",
        ),
        (
            {},
            [
                {
                    "task": "unload_to_s3",
                    "args": {
                        "query": "/* a comment */ DELETE FROM lake.sales",
                        "destination": "s3://b/out/",
                        "iam_role": ROLE,
                    },
                }
            ],
            "args",
            "exactly one SELECT",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(
    run: Any, data_api: Any, rs_routine: Any, params: dict, tasks: list, field: str, message: str
) -> None:
    with pytest.raises(RoutineError) as caught:
        run(rs_routine(tasks, **params))
    problems = caught.value.problems or [caught.value]
    assert any(p.field == field and message in p.message for p in problems), str(caught.value)
    assert data_api.statements == []


def test_serverless_with_secret_is_valid(run: Any, data_api: Any, rs_routine: Any) -> None:
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:lake-admin-AbCdEf"
    result = run(
        rs_routine(
            [{"task": "create_schema", "args": {"schema": "lake"}}],
            cluster_identifier=None,
            db_user=None,
            workgroup_name="analytics",
            secret_arn=secret,
        )
    )
    assert result.status == "succeeded", result.tasks[0].error
    (statement,) = data_api.statements
    assert statement.secret_arn == secret
    assert statement.db_user is None
