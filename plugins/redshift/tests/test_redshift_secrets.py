"""Secrets written into SQL (a user's password, access keys in COPY CREDENTIALS) never
reach an error message; the rest of the failing statement does."""

from __future__ import annotations

from typing import Any

import pytest
from lakeroutine_redshift.sql import mask_secrets


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
    assert "cancelled" in error and "Sup3rSecret" not in error
