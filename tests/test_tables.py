"""The shared table spec: type parsing, name validation, quoting and the Hive DDL."""

from __future__ import annotations

import pytest
import sqlglot
from lakeroutine.sql.tables import (
    TableSpec,
    check_name,
    hive_add_partitions,
    hive_create_table,
    hive_drop_table,
    parse_type,
    partition_path,
    quote_identifier,
    quote_literal,
    sql_value,
)
from pydantic import ValidationError
from sqlglot import exp

SPEC = {
    "name": "sales",
    "columns": {"name": "string", "amount": "decimal(10,2)", "tags": "array<string>"},
    "partitioned_by": {"dt": "date"},
    "format": "parquet",
    "location": "s3://lake/staging/sales/",
}


@pytest.mark.parametrize(
    ("text", "hive", "duckdb"),
    [
        ("STRING", "string", "VARCHAR"),
        ("integer", "int", "INTEGER"),
        ("bigint", "bigint", "BIGINT"),
        ("double", "double", "DOUBLE"),
        ("boolean", "boolean", "BOOLEAN"),
        ("date", "date", "DATE"),
        ("timestamp", "timestamp", "TIMESTAMP"),
        ("decimal", "decimal(10,0)", "DECIMAL(10, 0)"),
        ("DECIMAL( 12 , 3 )", "decimal(12,3)", "DECIMAL(12, 3)"),
        ("varchar(20)", "varchar(20)", "VARCHAR"),
        ("varchar", "string", "VARCHAR"),  # Hive's grammar has no varchar without a length
        ("char", "char(1)", "VARCHAR"),
        ("array<int>", "array<int>", "INTEGER[]"),
        ("map<string, array<bigint>>", "map<string,array<bigint>>", "MAP(VARCHAR, BIGINT[])"),
        (
            "struct<a:int, b:array<struct<c:string>>>",
            "struct<a:int,b:array<struct<c:string>>>",
            'STRUCT("a" INTEGER, "b" STRUCT("c" VARCHAR)[])',
        ),
    ],
)
def test_types_parse_to_canonical_hive_and_duckdb(text: str, hive: str, duckdb: str) -> None:
    parsed = parse_type(text)
    assert parsed.hive() == hive
    assert parsed.duckdb() == duckdb
    assert parse_type(parsed.hive()) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("strin", "unknown column type 'strin'"),
        ("array<int", "expected '>'"),
        ("map<array<int>,int>", "map keys must be a primitive type"),
        ("decimal(40,2)", "precision must be 1-38"),
        ("decimal(5,6)", "scale 0-precision"),
        ("struct<a b:int>", "expected ':'"),
        ("struct<a:int,a:string>", "duplicate struct field"),
        ("int; DROP TABLE x", "unexpected"),
        ("int)", "unexpected ')'"),
        ("", "non-empty"),
    ],
)
def test_bad_types_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_type(text)


@pytest.mark.parametrize("name", ["a b", "x;drop", "1abc", "t`x", 'q"', "é", "", "a" * 256])
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        check_name(name)


def test_names_are_lowercased_and_duplicates_refused() -> None:
    assert check_name("Sales_2024") == "sales_2024"
    with pytest.raises(ValidationError, match="given twice"):
        TableSpec.model_validate({**SPEC, "columns": {"Name": "string", "name": "int"}})


def test_spec_validation_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        TableSpec.model_validate({**SPEC, "columns": {"amount": "money"}})
    assert info.value.errors()[0]["loc"] == ("columns", "amount")
    with pytest.raises(ValidationError) as info:
        TableSpec.model_validate({**SPEC, "name": "sales; drop table x"})
    assert info.value.errors()[0]["loc"] == ("name",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"partitioned_by": {"name": "string"}}, "also a column"),
        ({"partitioned_by": {"p": "array<int>"}}, "primitive type"),
        ({"delimiter": ";"}, "apply to format 'csv' only"),
        ({"format": "csv", "delimiter": ";;"}, "exactly one character"),
        ({"format": "avro"}, "format"),
        ({"properties": {"a' = 'b": "x"}}, "unsafe property name"),
        ({"columns": {}}, "at least 1"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_inconsistent_specs_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TableSpec.model_validate({**SPEC, **change})


def test_quoting_per_dialect() -> None:
    assert quote_identifier("select", "hive") == "`select`"
    assert quote_identifier("Select", "trino") == '"select"'
    assert quote_literal("it's", "hive") == "'it\\'s'"
    assert quote_literal("it's", "trino") == "'it''s'"
    assert quote_literal("a\\b", "hive") == "'a\\\\b'"
    assert sql_value(3, "trino") == "3"
    assert sql_value(True, "trino") == "TRUE"
    assert sql_value(None, "duckdb") == "NULL"
    with pytest.raises(ValueError, match="control character"):
        quote_literal("a\x00b", "duckdb")
    with pytest.raises(ValueError):
        quote_identifier("a`b", "hive")


def _one_statement(sql: str) -> exp.Expression:
    statements = sqlglot.parse(sql, dialect="athena")
    assert len(statements) == 1, sql
    return statements[0]


def test_hive_ddl_parses_back_to_the_spec() -> None:
    spec = TableSpec.model_validate(SPEC)
    ddl = hive_create_table(spec, database="lake", if_not_exists=True)
    tree = _one_statement(ddl)
    assert isinstance(tree, exp.Create)
    assert tree.this.this.name == "sales" and tree.this.this.args["db"].name == "lake"
    columns = {c.name: c.args["kind"].sql("hive") for c in tree.this.expressions}
    assert columns == {"name": "STRING", "amount": "DECIMAL(10, 2)", "tags": "ARRAY<STRING>"}
    partitions = tree.find(exp.PartitionedByProperty)
    assert [c.name for c in partitions.this.expressions] == ["dt"]
    assert tree.find(exp.FileFormatProperty).this.name.upper() == "PARQUET"
    assert tree.find(exp.LocationProperty).this.this == "s3://lake/staging/sales/"
    assert tree.args["exists"] is True


def test_struct_fields_are_backquoted_in_ddl_only() -> None:
    spec = TableSpec.model_validate(
        {**SPEC, "columns": {"s": "struct<date:string, items:array<struct<select:int>>>"}}
    )
    assert spec.columns["s"] == "struct<date:string,items:array<struct<select:int>>>"
    tree = _one_statement(hive_create_table(spec))
    kind = tree.this.expressions[0].args["kind"]
    assert kind.sql("hive") == "STRUCT<`date`: STRING, `items`: ARRAY<STRUCT<`select`: INT>>>"


def test_csv_ddl_has_its_delimiter_header_and_quote() -> None:
    spec = TableSpec.model_validate(
        {**SPEC, "format": "csv", "delimiter": "|", "header_lines": 1, "partitioned_by": {}}
    )
    tree = _one_statement(hive_create_table(spec))
    assert "FIELDS TERMINATED BY '|'" in tree.sql("athena")
    props = {
        p.name: p.args["value"].this for p in tree.find_all(exp.Property) if type(p) is exp.Property
    }
    assert props["skip.header.line.count"] == "1"
    quoted = TableSpec.model_validate({**SPEC, "format": "csv", "quote": '"'})
    serde = _one_statement(hive_create_table(quoted)).find(exp.RowFormatSerdeProperty)
    assert serde.this.this == "org.apache.hadoop.hive.serde2.OpenCSVSerde"


def test_hostile_values_stay_literals() -> None:
    location = "s3://lake/x'); DROP TABLE t; --/"
    spec = TableSpec.model_validate(
        {**SPEC, "location": location, "properties": {"note": "a\\' ) DROP"}}
    )
    tree = _one_statement(hive_create_table(spec))
    assert tree.find(exp.LocationProperty).this.this.replace("\\'", "'") == location
    drop = _one_statement(hive_drop_table("sales", database="lake"))
    assert drop.sql("athena") == "DROP TABLE IF EXISTS `lake`.`sales`"


def test_add_partitions_and_partition_paths() -> None:
    sql = hive_add_partitions(
        "sales", [({"dt": "2024-01-01"}, "s3://lake/sales/dt=2024-01-01/")], database="lake"
    )
    tree = _one_statement(sql)
    assert isinstance(tree, exp.Alter)
    assert "PARTITION(`dt` = '2024-01-01')" in tree.sql("athena")
    assert partition_path({"dt": "2024-01-01", "region": "eu"}) == "dt=2024-01-01/region=eu/"
    with pytest.raises(ValueError, match="folder name"):
        partition_path({"dt": "../../etc"})


def test_partition_values_are_names_and_folder_safe_values() -> None:
    from lakeroutine.sql.tables import PartitionValues
    from pydantic import TypeAdapter

    adapter = TypeAdapter(PartitionValues)
    assert adapter.validate_python({"DT": "2024-01-01", "n": 3}) == {"dt": "2024-01-01", "n": 3}
    for bad in ({"dt": "a/b"}, {"dt": ".hidden"}, {"d t": "x"}, {"dt": ""}, {"dt": "a\nb"}):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)


def test_shared_add_partitions_args_locate_each_partition() -> None:
    from lakeroutine.sql.table_tasks import AddPartitionsArgs

    args = AddPartitionsArgs.model_validate(
        {
            "table": "Sales",
            "location": "s3://lake/sales",
            "partitions": [
                {"values": {"dt": "2024-01-01"}},
                {"values": {"dt": "2024-01-02"}, "location": "s3://elsewhere/p/"},
            ],
        }
    )
    assert args.table == "sales"
    assert args.located() == [
        ({"dt": "2024-01-01"}, "s3://lake/sales/dt=2024-01-01/"),
        ({"dt": "2024-01-02"}, "s3://elsewhere/p/"),
    ]
    unplaced = args.model_copy(update={"location": None})
    assert unplaced.located()[0] == ({"dt": "2024-01-01"}, None)
    with pytest.raises(ValidationError, match="partition 1 has keys"):
        AddPartitionsArgs.model_validate(
            {"table": "t", "partitions": [{"values": {"a": 1}}, {"values": {"b": 2}}]}
        )
