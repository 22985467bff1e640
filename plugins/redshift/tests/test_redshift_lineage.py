"""RedshiftExecutor tasks over moto's Data API tell the tables their SQL reads, as sqlglot's
Redshift dialect parses it, with lakeroutine-openlineage installed: named
``redshift://CLUSTER.REGION:5439`` / ``db.schema.table``, every event valid by the schemas."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "openlineage" / "tests"))
from lr_openlineage_helpers import file_transport, valid_events

ROLE = "arn:aws:iam::123456789012:role/redshift-unloader"


@pytest.fixture
def events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Reads what the client's file transport wrote for this test, each event validated."""
    events_file = file_transport(tmp_path, monkeypatch)
    return lambda: valid_events(events_file)


def names(datasets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((d["namespace"], d["name"]) for d in datasets)


def test_execute_sql_and_unload_declare_the_tables_they_read(
    run: Any, data_api: Any, rs_routine: Any, events: Any
) -> None:
    script = """
        CREATE TEMP TABLE day_sales AS SELECT * FROM lake.sales WHERE day = :day;
        DELETE FROM lake.totals USING lake.corrections c WHERE totals.day = c.day;
        INSERT INTO lake.totals
            WITH eu AS (SELECT id FROM crm.customers WHERE region = 'eu')
            SELECT day, SUM(amount) FROM day_sales JOIN eu USING (id)
            JOIN Other_DB.finance.Rates r ON r.day = day_sales.day GROUP BY day;
        SELECT COUNT(*) FROM lake.totals
    """
    unload = {
        "query": "SELECT id, amount FROM lake.sales JOIN fx USING (currency)",
        "destination": "s3://lake/exports/sales/",
        "iam_role": ROLE,
    }
    tasks = [
        {"task": "execute_sql", "args": {"sql": script, "parameters": {"day": "2026-11-24"}}},
        {"task": "unload_to_s3", "args": unload},
    ]
    result = run(rs_routine(tasks))
    assert result.status == "succeeded", [t.error for t in result.tasks]
    found = events()
    assert [e["eventType"] for e in found] == ["START", "COMPLETE"] * 2
    namespace = "redshift://lake.us-east-1:5439"  # the cluster, in the emulator's region
    # the temp table the script fills is no input; the DELETE's and INSERT's targets are
    # written, but the SELECT reads lake.totals; the CTE is no table; names fold to lower case
    assert names(found[1]["inputs"]) == [
        (namespace, "dev.crm.customers"),
        (namespace, "dev.lake.corrections"),
        (namespace, "dev.lake.sales"),
        (namespace, "dev.lake.totals"),
        (namespace, "other_db.finance.rates"),
    ]
    assert names(found[3]["inputs"]) == [
        (namespace, "dev.lake.sales"),
        (namespace, "dev.public.fx"),
    ]
    assert [(o["namespace"], o["name"]) for o in found[3]["outputs"]] == [
        ("s3://lake", "exports/sales")
    ]
