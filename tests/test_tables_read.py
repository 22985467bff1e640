"""lakeroutine.sql.tables_read: the tables a SQL text reads, as sqlglot parses it in the
engine's dialect (CTEs, written targets and tables the text creates left out)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from lakeroutine.sql.tables_read import tables_read


@pytest.mark.parametrize(
    ("sql", "dialect", "expected"),
    [
        (
            "WITH x AS (SELECT * FROM Lake.Sales) "
            "SELECT * FROM x JOIN awsdatacatalog.crm.c USING (a)",
            "athena",
            {("lake", "sales"), ("awsdatacatalog", "crm", "c")},
        ),
        (
            "INSERT INTO lake.t SELECT * FROM lake.s WHERE id IN (SELECT id FROM u)",
            "athena",
            {("lake", "s"), ("u",)},
        ),
        (
            "CREATE TABLE lake.t (x int); DROP TABLE lake.old; TRUNCATE TABLE lake.t2",
            "redshift",
            set(),
        ),
        (
            "CREATE TEMP TABLE s AS SELECT * FROM a.b; DELETE FROM t USING s WHERE t.id = s.id",
            "redshift",
            {("a", "b")},
        ),
        (
            "MERGE INTO a.t USING a.s ON t.id = s.id WHEN MATCHED THEN DELETE",
            "redshift",
            {("a", "s")},
        ),
        ("SELEC nothing ((", "redshift", set()),  # unparseable: nothing, no error
    ],
)
def test_tables_read(sql: str, dialect: str, expected: set) -> None:
    found = tables_read(sql, dialect)
    assert set(found) == expected and len(found) == len(expected)


def test_sqlglot_is_imported_only_when_called() -> None:
    code = "import sys, lakeroutine.sql.tables_read; print('sqlglot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_text_sqlglot_cannot_parse_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    sql = "UNLOAD ('SELECT 1') TO 's3://b/p/' CREDENTIALS 'aws_secret_access_key=Sup3r'"
    with caplog.at_level(logging.DEBUG):
        assert tables_read(sql, "redshift") == []
    assert "Sup3r" not in caplog.text
