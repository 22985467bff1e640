"""Params of the RedshiftExecutor and args of its tasks, validated before anything is sent."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from lakeroutine.aws import AwsConnection
from lakeroutine.executor import Params
from lakeroutine.sql.tables import both_column_forms, columns_as_list
from lakeroutine.types import ExistingFile, S3Url
from pydantic import AfterValidator, Field, field_validator, model_validator

from lakeroutine_redshift.script import Statement, split_sql
from lakeroutine_redshift.sql import ENCODINGS, check_identifier, check_type

Identifier = Annotated[str, AfterValidator(check_identifier)]
ColumnType = Annotated[str, AfterValidator(check_type)]

_IAM_ROLE_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
_SECRET_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$"
)
_PARAM_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_QUERY_START_RE = re.compile(
    r"^(?:\s|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*(?:SELECT|WITH)\b", re.I | re.S
)


def _check_iam_role(value: str) -> str:
    if not _IAM_ROLE_RE.match(value):
        raise ValueError(f"{value!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)")
    return value


def _check_secret_arn(value: str) -> str:
    if not _SECRET_ARN_RE.match(value):
        raise ValueError(
            "not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)"
        )
    return value


def _check_single_char(value: str) -> str:
    if len(value) != 1:
        raise ValueError("must be exactly one character")
    return value


IamRole = Annotated[str, AfterValidator(_check_iam_role)]
SingleChar = Annotated[str, AfterValidator(_check_single_char)]


class RedshiftParams(AwsConnection):
    """Where statements run: a provisioned cluster or a serverless workgroup, and as whom
    (``AwsConnection``: region, profile, endpoint and retries of the Data API client)."""

    cluster_identifier: str | None = Field(None, description="Provisioned cluster to run on")
    workgroup_name: str | None = Field(None, description="Serverless workgroup to run on")
    database: str = Field(min_length=1, description="Database to connect to")
    db_user: str | None = Field(None, description="Database user (temporary credentials)")
    secret_arn: Annotated[str, AfterValidator(_check_secret_arn)] | None = Field(
        None, description="Secrets Manager secret holding the database credentials"
    )
    poll_interval_s: float = Field(2.0, gt=0, le=300, description="Seconds between polls")
    max_wait_s: float = Field(
        3600.0,
        gt=0,
        le=7 * 24 * 3600.0,
        description="Longest wait for one statement, then cancelled (default 1 h, at most 7 days)",
    )

    @model_validator(mode="after")
    def _check_target(self) -> RedshiftParams:
        if (self.cluster_identifier is None) == (self.workgroup_name is None):
            raise ValueError(
                "give exactly one of cluster_identifier (provisioned) or workgroup_name "
                "(serverless)"
            )
        if self.db_user is not None and self.secret_arn is not None:
            raise ValueError("give db_user or secret_arn, not both")
        if self.workgroup_name is not None and self.db_user is not None:
            raise ValueError("db_user is for provisioned clusters; use secret_arn or IAM")
        if self.cluster_identifier is not None and not (self.db_user or self.secret_arn):
            raise ValueError("a provisioned cluster needs db_user or secret_arn")
        return self


ParamValue = str | int | float | bool


class ExecuteSqlArgs(Params):
    """SQL to run: inline or from a file; several statements run in order."""

    sql: str | list[str] | None = Field(None, description="Statement(s); ';' separates several")
    sql_file: ExistingFile | None = Field(None, description="A .sql file, relative to the routine")
    parameters: dict[str, ParamValue] = Field(
        default_factory=dict, description="Values for :name placeholders"
    )
    fetch_rows: int = Field(
        0, ge=0, le=1000, description="Rows of the last statement's result to report"
    )

    @model_validator(mode="after")
    def _one_source(self) -> ExecuteSqlArgs:
        if (self.sql is None) == (self.sql_file is None):
            raise ValueError("give exactly one of sql or sql_file")
        for name, value in self.parameters.items():
            if not _PARAM_NAME_RE.match(name):
                raise ValueError(f"parameter name {name!r} must be a plain name (:name in SQL)")
            if value == "":
                raise ValueError(f"parameter {name!r}: the Data API refuses empty values")
        statements = self.statements()
        if not statements:
            raise ValueError("no SQL statement to run")
        used = {name for s in statements for name in s.parameters}
        if missing := sorted(used - set(self.parameters)):
            raise ValueError(f"the SQL uses parameters with no value: {', '.join(missing)}")
        if unused := sorted(set(self.parameters) - used):
            raise ValueError(f"parameters the SQL does not use: {', '.join(unused)}")
        return self

    def statements(self) -> list[Statement]:
        """The statements to run, in order, each with the parameter names it uses."""
        if self.sql_file is not None:
            return split_sql(self.sql_file.read_text(encoding="utf-8"))
        scripts = [self.sql] if isinstance(self.sql, str) else list(self.sql or [])
        return [statement for script in scripts for statement in split_sql(script)]


class CreateSchemaArgs(Params):
    """A schema to create if it is missing."""

    schema_: Identifier = Field(alias="schema", description="Schema to create if missing")


class Column(Params):
    """One column of a Redshift table."""

    name: Identifier
    type: ColumnType
    nullable: bool = True
    encode: str | None = Field(None, description="Compression encoding (ZSTD, AZ64...)")

    @model_validator(mode="after")
    def _check_encode(self) -> Column:
        if self.encode is not None and self.encode.upper() not in ENCODINGS:
            raise ValueError(f"encode {self.encode!r} is not one of {', '.join(sorted(ENCODINGS))}")
        return self


def _qualified(data: Any) -> Any:
    """A table given as ``"schema.name"`` (or ``{"name": "schema.name", ...}``), as
    awswrangler and Airflow's S3ToRedshiftOperator take it, split into name and schema."""
    if isinstance(data, str):
        data = {"name": data}
    if isinstance(data, dict) and isinstance(data.get("name"), str) and "." in data["name"]:
        if data.get("schema") is not None:
            raise ValueError(
                "give the schema in 'name' (\"schema.table\") or in 'schema', not both"
            )
        schema, _, name = data["name"].partition(".")
        data = {**data, "schema": schema, "name": name}
    return data


class RedshiftTable(Params):
    """A Redshift table: columns and distribution/sort keys; ``name`` may be
    ``"schema.table"``."""

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        return _qualified(data)

    @field_validator("columns", mode="before")
    @classmethod
    def _either_form(cls, value: Any) -> Any:
        """``{"name": "varchar(64)", ...}``, the shared table spec's form, is taken too."""
        return columns_as_list(value)

    name: Identifier
    schema_: Identifier | None = Field(None, alias="schema")
    columns: list[Column] = Field(
        min_length=1,
        description='[{"name", "type", "nullable", "encode"}], or {"name": "type", ...}',
        json_schema_extra=both_column_forms,
    )
    diststyle: Literal["auto", "even", "key", "all"] | None = None
    distkey: Identifier | None = None
    sortkey: list[Identifier] = Field(default_factory=list)
    sortkey_style: Literal["compound", "interleaved"] = "compound"

    @model_validator(mode="after")
    def _check_keys(self) -> RedshiftTable:
        names = [c.name for c in self.columns]
        if len({n.lower() for n in names}) != len(names):
            raise ValueError("column names must be unique")
        for key in [*([self.distkey] if self.distkey else []), *self.sortkey]:
            if key not in names:
                raise ValueError(f"key column {key!r} is not a column of the table")
        if self.distkey and self.diststyle not in (None, "key"):
            raise ValueError("distkey needs diststyle 'key' (or no diststyle)")
        if self.diststyle == "key" and not self.distkey:
            raise ValueError("diststyle 'key' needs a distkey")
        return self


class TableRef(Params):
    """An existing table, optionally in a schema: ``{"name", "schema"}`` or a string
    ``"schema.table"`` (or ``"table"``)."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        """Editors accept the string form too: ``{"anyOf": [object, "schema.table"]}``."""
        as_object = handler(core_schema)
        as_text = {"type": "string", "description": '"schema.table" or "table"'}
        return {"anyOf": [as_object, as_text]}

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        return _qualified(data)

    name: Identifier
    schema_: Identifier | None = Field(None, alias="schema")


class CreateTableArgs(Params):
    """A table to create if it is missing."""

    table: RedshiftTable


class CsvOptions(Params):
    """How COPY reads CSV files."""

    delimiter: SingleChar = ","
    header: bool = Field(True, description="The first line of each file is a header")
    quote: SingleChar = '"'
    null_as: str | None = Field(None, description="Text that means NULL")


class CopyArgs(Params):
    """Load files under an S3 prefix into a table."""

    table: TableRef
    source: S3Url = Field(description="s3://bucket/prefix of the files to load")
    iam_role: IamRole
    format: Literal["parquet", "csv"] = "parquet"
    csv: CsvOptions | None = None
    mode: Literal["append", "overwrite", "upsert"] = "append"
    keys: list[Identifier] = Field(default_factory=list, description="Match columns of upsert")
    region: str | None = Field(None, description="Region of the bucket, when not the cluster's")

    @model_validator(mode="after")
    def _check_mode(self) -> CopyArgs:
        if self.mode == "upsert" and not self.keys:
            raise ValueError("mode 'upsert' needs keys")
        if self.mode != "upsert" and self.keys:
            raise ValueError("keys are only used by mode 'upsert'")
        if self.csv is not None and self.format != "csv":
            raise ValueError("csv options need format 'csv'")
        if self.region is not None and not re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", self.region):
            raise ValueError(f"{self.region!r} is not an AWS region name")
        return self


class UnloadArgs(Params):
    """Write a query's result to S3."""

    query: str = Field(min_length=1, description="A SELECT statement")
    destination: S3Url = Field(description="s3://bucket/prefix the files are written under")
    iam_role: IamRole
    format: Literal["parquet", "csv"] = "parquet"
    header: bool = Field(True, description="CSV only: write a header line")
    delimiter: SingleChar = Field(",", description="CSV only")
    partition_by: list[Identifier] = Field(default_factory=list)
    allow_overwrite: bool = False

    @model_validator(mode="after")
    def _check_query(self) -> UnloadArgs:
        statements = split_sql(self.query)
        if len(statements) != 1 or not _QUERY_START_RE.match(statements[0].text):
            raise ValueError("query must be exactly one SELECT statement")
        if statements[0].parameters:
            raise ValueError("UNLOAD cannot take :parameters")
        if self.format == "parquet" and self.delimiter != ",":
            raise ValueError("delimiter is a CSV option")
        return self
