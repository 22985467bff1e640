"""The shared table spec as a Glue Data Catalog ``TableInput``, and partition inputs.

Each format gets the SerDe and input/output formats Athena and Spark expect, the same
ones ``CREATE EXTERNAL TABLE ... STORED AS`` would record.
"""

from __future__ import annotations

from typing import Any

from lakeroutine.sql.tables import TableSpec, parse_type, partition_path, table_properties

_TEXT_IN = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

_FORMATS: dict[str, tuple[str, str, str]] = {
    "parquet": (
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    ),
    "orc": (
        "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
        "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
        "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
    ),
    "json": (_TEXT_IN, _TEXT_OUT, "org.openx.data.jsonserde.JsonSerDe"),
    "csv": (_TEXT_IN, _TEXT_OUT, "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"),
}
_OPEN_CSV = "org.apache.hadoop.hive.serde2.OpenCSVSerde"


def _columns(columns: dict[str, str]) -> list[dict[str, str]]:
    return [{"Name": name, "Type": parse_type(t).hive()} for name, t in columns.items()]


def _serde(spec: TableSpec) -> dict[str, Any]:
    input_format, output_format, library = _FORMATS[spec.format]
    parameters: dict[str, str] = {}
    if spec.format == "csv":
        delimiter = spec.delimiter or ","
        if spec.quote is not None:
            library = _OPEN_CSV
            parameters = {"separatorChar": delimiter, "quoteChar": spec.quote}
        else:
            parameters = {"field.delim": delimiter, "serialization.format": delimiter}
    elif spec.format in ("parquet", "orc"):
        parameters = {"serialization.format": "1"}
    return {
        "InputFormat": input_format,
        "OutputFormat": output_format,
        "SerdeInfo": {"SerializationLibrary": library, "Parameters": parameters},
    }


def table_input(spec: TableSpec) -> dict[str, Any]:
    """The ``TableInput`` of ``spec``: an EXTERNAL_TABLE over ``spec.location``."""
    storage = {"Columns": _columns(spec.columns), "Location": spec.location, **_serde(spec)}
    parameters = {"EXTERNAL": "TRUE", "classification": spec.format, **table_properties(spec)}
    return {
        "Name": spec.name,
        "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": storage,
        "PartitionKeys": _columns(spec.partitioned_by),
        "Parameters": parameters,
    }


def partition_input(
    table: dict[str, Any], values: dict[str, Any], location: str | None
) -> dict[str, Any]:
    """A ``PartitionInput`` for an existing catalog ``table`` (as ``get_table`` returns it):
    values in the table's partition-key order, its storage descriptor, and the partition's
    folder (``location`` or the table's location plus ``k=v/``)."""
    keys = [key["Name"] for key in table.get("PartitionKeys", [])]
    if not keys:
        raise ValueError(f"table {table['Name']!r} has no partition keys")
    if sorted(values) != sorted(keys):
        raise ValueError(
            f"partition {values} of table {table['Name']!r} must give exactly: {', '.join(keys)}"
        )
    ordered = {key: values[key] for key in keys}
    descriptor = dict(table.get("StorageDescriptor", {}))
    if location is None:
        base = str(descriptor.get("Location", ""))
        location = base.rstrip("/") + "/" + partition_path(ordered)
    descriptor["Location"] = location
    return {"Values": [str(v) for v in ordered.values()], "StorageDescriptor": descriptor}
