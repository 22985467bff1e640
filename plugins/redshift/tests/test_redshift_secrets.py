"""Secrets written into SQL (a user's password, access keys in COPY CREDENTIALS) never
reach an error message or a log, even botocore's DEBUG log of request and response bodies;
the rest of the failing statement does reach the error."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from lakeroutine.redact import Redactor
from lakeroutine_redshift.sql import mask_secrets, secret_literals


@pytest.mark.parametrize(
    ("sql", "masked"),
    [
        ("CREATE USER bob PASSWORD 'Sup3r''Secret'", "CREATE USER bob PASSWORD '***'"),
        (
            "alter user bob password 'a\\'b' valid until 'x'",
            "alter user bob password '***' valid until 'x'",
        ),
        ("ALTER USER bob PASSWORD DISABLE", "ALTER USER bob PASSWORD DISABLE"),
        (
            "COPY t FROM 's3://b/p' CREDENTIALS AS 'aws_access_key_id=AK;aws_secret_access_key=SK'",
            "COPY t FROM 's3://b/p' CREDENTIALS AS '***'",
        ),
        (
            "COPY t FROM 's3://b' ACCESS_KEY_ID 'AK' SECRET_ACCESS_KEY 'SK' SESSION_TOKEN 'TK'",
            "COPY t FROM 's3://b' ACCESS_KEY_ID '***' SECRET_ACCESS_KEY '***' SESSION_TOKEN '***'",
        ),
        ("SELECT 'password' AS word", "SELECT 'password' AS word"),
    ],
)
def test_mask_secrets(sql: str, masked: str) -> None:
    assert mask_secrets(sql) == masked


def test_a_failed_statement_s_error_holds_no_password(
    run: Any, data_api: Any, rs_routine: Any
) -> None:
    data_api.rule = lambda s: ("FAILED", 'ERROR: role "bob" already exists')
    sql = "CREATE USER bob PASSWORD 'Sup3rSecret!' CREATEDB"
    result = run(rs_routine([{"task": "execute_sql", "args": {"sql": sql}}]))
    error = result.tasks[0].error
    assert 'FAILED: ERROR: role "bob" already exists' in error
    assert "SQL: CREATE USER bob PASSWORD '***' CREATEDB" in error
    assert "Sup3rSecret" not in error


def test_a_statement_cancelled_after_max_wait_holds_no_password(
    run: Any, data_api: Any, rs_routine: Any
) -> None:
    data_api.rule = lambda s: None
    sql = "ALTER USER bob PASSWORD 'Sup3rSecret!'"
    result = run(rs_routine([{"task": "execute_sql", "args": {"sql": sql}}], max_wait_s=0.05))
    error = result.tasks[0].error
    assert "stopped" in error and "Sup3rSecret" not in error


def test_secret_literals_in_every_form_a_log_shows() -> None:
    sql = """CREATE USER bob PASSWORD 'Sup3r''Se"crét\\\\' VALID UNTIL '2030-01-01'"""
    redact = Redactor(secret_literals(sql))
    body = json.dumps({"Sql": sql})  # the request body, and as botocore logs it (bytes)
    for shown in (sql, body, repr(body.encode())):
        masked = redact(shown)
        assert "Sup3r" not in masked and "Se" not in masked and "2030-01-01" in masked, masked


def test_a_password_in_sql_stays_out_of_debug_logs(
    run: Any, data_api: Any, rs_routine: Any, caplog: Any
) -> None:
    sql = "CREATE USER bob PASSWORD 'Sup3r''Secret!'; SELECT 1"
    with caplog.at_level(logging.DEBUG):
        result = run(rs_routine([{"task": "execute_sql", "args": {"sql": sql}}]))
    assert result.status == "succeeded", result.tasks[0].error
    assert "CREATE USER bob PASSWORD" in caplog.text  # botocore did log the body
    assert "Sup3r" not in caplog.text
