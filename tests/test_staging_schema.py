"""Landing files checked against an expected schema before staging: a CSV with a renamed
column, a JSON file with a value of the wrong type and a Parquet file with another column
type are refused and named with the difference (left in landing, or moved to a quarantine
folder); the files that match are staged and archived as usual."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lakeroutine.errors import RoutineError

COLUMNS = {"id": "bigint", "name": "string", "amount": "double", "day": "date"}
GOOD_CSV = "id,name,amount,day\n1,ana,10.5,2024-01-01\n2,bob,3,2024-01-02\n"


def staging(lake: Any, schema: dict[str, Any], **params: Any) -> dict[str, Any]:
    return {
        "routine_name": "schema_test",
        "state_dir": str(lake.root / "state"),
        "executors": {
            "StagingExecutor": {
                "params": {
                    "parent_directory": str(lake.landing),
                    "dump_directory": str(lake.staging),
                    "expected_schema": schema,
                    **params,
                },
                "tasks": ["transfer", "post_staging"],
            }
        },
    }


def refusals(result: Any) -> dict[str, str]:
    return {r["file"]: r["reason"] for r in result.tasks[0].output.get("refused_files", [])}


def test_drifting_files_stay_in_landing_named_with_the_difference(lake: Any, run) -> None:
    lake.write("good.csv", GOOD_CSV)
    lake.write("renamed.csv", "id,client,amount,day\n1,ana,10.5,2024-01-01\n")
    lake.write("badtype.csv", "id,name,amount,day\n1,ana,lots,2024-01-01\n")
    lake.write("good.jsonl", '{"id": 1, "name": "ana", "amount": 1.5, "day": "2024-01-01"}\n')
    lake.write("bad.jsonl", '{"id": "x1", "name": "ana", "amount": 1.5, "day": "2024-01-01"}\n')
    lake.write(
        "extra.jsonl", '{"id": 1, "name": "a", "amount": 1, "day": "2024-01-01", "vip": 1}\n'
    )

    result = run(staging(lake, {"columns": COLUMNS}))

    assert result.status == "succeeded"
    assert refusals(result) == {
        "renamed.csv": "does not match expected_schema: missing column 'name'; "
        "unexpected column 'client'",
        "badtype.csv": "does not match expected_schema: column 'amount' at row 2: "
        "'lots' is not double",
        "bad.jsonl": "does not match expected_schema: column 'id' at row 1: 'x1' is not bigint",
        "extra.jsonl": "does not match expected_schema: unexpected column 'vip'",
    }
    assert set(lake.files(lake.staging)) == {"good.csv", "good.jsonl"}
    assert set(lake.files(lake.landing)) == {
        "renamed.csv", "badtype.csv", "bad.jsonl", "extra.jsonl"
    }  # fmt: skip


def test_parquet_schema_from_the_footer_and_a_quarantine_folder(
    lake: Any, run, tmp_path: Path
) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    good = pa.table({"id": pa.array([1], pa.int64()), "name": ["a"], "amount": [1.0],
                     "day": pa.array([19723], pa.int32()).cast(pa.date32())})  # fmt: skip
    drifted = good.set_column(2, "amount", pa.array(["1.0"]))
    lake.landing.mkdir(parents=True, exist_ok=True)
    pq.write_table(good, lake.landing / "good.parquet")
    (lake.landing / "day2").mkdir()
    pq.write_table(drifted, lake.landing / "day2" / "drifted.parquet")
    quarantine = tmp_path / "quarantine"
    schema = {"columns": COLUMNS, "quarantine_directory": str(quarantine)}

    result = run(staging(lake, schema, on_refused="fail"))

    assert result.tasks[0].status == "failed"  # on_refused: fail, once the rest is staged
    assert (
        "day2/drifted.parquet: does not match expected_schema: column 'amount' is "
        "string, expected double; moved to quarantine" in result.tasks[0].error
    )
    assert set(lake.files(lake.staging)) == {"good.parquet"}
    assert set(lake.files(quarantine)) == {"day2/drifted.parquet"}
    assert "day2/drifted.parquet" not in lake.files(lake.landing)
    assert pq.read_table(quarantine / "day2" / "drifted.parquet").equals(drifted)


def test_csv_without_header_is_checked_by_field_count(lake: Any, run) -> None:
    lake.write("ok.csv", "1;ana;1.5;2024-01-01\n")
    lake.write("short.csv", "1;ana;1.5\n")
    schema = {"columns": COLUMNS, "header": False, "delimiter": ";"}

    result = run(staging(lake, schema))

    assert refusals(result) == {"short.csv": "does not match expected_schema: 3 fields, expected 4"}
    assert set(lake.files(lake.staging)) == {"ok.csv"}


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"columns": {"id": "bigintt"}}, "unknown column type"),
        ({"columns": {}}, "at least 1 item"),
        ({"columns": {"id": "int"}, "format": "xml"}, "expected_schema.format"),
        ({"columns": {"id": "int"}, "quarantine_directory": "LANDING/q"}, "must not overlap"),
    ],
)
def test_bad_expected_schema_is_refused_offline(
    lake: Any, run, schema: dict[str, Any], message: str
) -> None:
    lake.write("good.csv", GOOD_CSV)
    if "quarantine_directory" in schema:
        schema = {**schema, "quarantine_directory": str(lake.landing / "q")}
    with pytest.raises(RoutineError) as caught:
        run(staging(lake, schema))
    assert "StagingExecutor" in str(caught.value) and message in str(caught.value)
    assert lake.files(lake.staging) == {}


def test_s3_landing_files_are_checked_and_quarantined(moto_endpoint: str, run, lake) -> None:
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key="landing/good.csv", Body=GOOD_CSV.encode())
    s3.put_object(Bucket="lake", Key="landing/bad.csv", Body=b"id,nom\n1,a\n")
    schema = {"columns": COLUMNS, "quarantine_directory": "s3://lake/quarantine/"}
    routine = staging(lake, schema)
    routine["executors"]["StagingExecutor"]["params"].update(
        parent_directory="s3://lake/landing/", dump_directory="s3://lake/staging/"
    )

    result = run(routine)

    assert result.status == "succeeded"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"])
    assert keys == ["landing_archive/good.csv", "quarantine/bad.csv", "staging/good.csv"]
    assert json.dumps(refusals(result)).count("missing column") == 3
