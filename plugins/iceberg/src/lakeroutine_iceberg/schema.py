"""The spec's Hive type names as Iceberg types and schemas, partition specs and sort orders."""

from __future__ import annotations

from typing import Any

from lakeroutine.sql.iceberg import IcebergTableSpec, PartitionField, SortField
from lakeroutine.sql.tables import ColumnType, parse_type
from pyiceberg import types as it
from pyiceberg.partitioning import PartitionField as IcebergPartitionField
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.sorting import NullOrder, SortDirection, SortOrder
from pyiceberg.table.sorting import SortField as IcebergSortField
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    Transform,
    TruncateTransform,
    YearTransform,
)

_PRIMITIVES: dict[str, Any] = {
    "string": it.StringType,
    "int": it.IntegerType,
    "bigint": it.LongType,
    "float": it.FloatType,
    "double": it.DoubleType,
    "boolean": it.BooleanType,
    "date": it.DateType,
    "timestamp": it.TimestampType,
    "binary": it.BinaryType,
}
_HIVE_OF = {cls: name for name, cls in _PRIMITIVES.items()}


class _Ids:
    """Field ids handed out in order, as Iceberg numbers a new schema."""

    def __init__(self, start: int = 0) -> None:
        self.last = start

    def next(self) -> int:
        self.last += 1
        return self.last


def iceberg_type(parsed: ColumnType, ids: _Ids) -> Any:
    """An Iceberg type for a parsed Hive type (nested ids taken from ``ids``)."""
    if parsed.kind in _PRIMITIVES:
        return _PRIMITIVES[parsed.kind]()
    if parsed.kind == "decimal":
        return it.DecimalType(*parsed.params)
    if parsed.kind == "array":
        element_id = ids.next()
        return it.ListType(element_id, iceberg_type(parsed.items[0], ids), element_required=False)
    if parsed.kind == "map":
        key_id, value_id = ids.next(), ids.next()
        key, value = (iceberg_type(t, ids) for t in parsed.items)
        return it.MapType(key_id, key, value_id, value, value_required=False)
    if parsed.kind == "struct":
        fields = []
        for name, item in zip(parsed.fields, parsed.items, strict=True):
            field_id = ids.next()
            fields.append(it.NestedField(field_id, name, iceberg_type(item, ids), required=False))
        return it.StructType(*fields)
    raise ValueError(f"Iceberg has no type for {parsed.hive()!r}")


def hive_name(iceberg: Any) -> str:
    """The Hive spelling of an Iceberg type (for comparing with a spec)."""
    if isinstance(iceberg, it.DecimalType):
        return f"decimal({iceberg.precision},{iceberg.scale})"
    if isinstance(iceberg, it.TimestamptzType):
        return "timestamp"
    if isinstance(iceberg, it.ListType):
        return f"array<{hive_name(iceberg.element_type)}>"
    if isinstance(iceberg, it.MapType):
        return f"map<{hive_name(iceberg.key_type)},{hive_name(iceberg.value_type)}>"
    if isinstance(iceberg, it.StructType):
        inner = ",".join(f"{f.name}:{hive_name(f.field_type)}" for f in iceberg.fields)
        return f"struct<{inner}>"
    return _HIVE_OF.get(type(iceberg), str(iceberg))


def schema_of(spec: IcebergTableSpec) -> Schema:
    """The Iceberg schema of a spec: top-level ids 1..n, identifier columns required."""
    ids = _Ids(len(spec.columns))
    fields = []
    for number, (name, type_name) in enumerate(spec.columns.items(), start=1):
        key = name in spec.identifier_columns
        field_type = iceberg_type(parse_type(type_name), ids)
        fields.append(it.NestedField(number, name, field_type, required=key))
    identifiers = [list(spec.columns).index(c) + 1 for c in spec.identifier_columns]
    return Schema(*fields, identifier_field_ids=identifiers)


def transform_of(field: PartitionField) -> Transform[Any, Any]:
    """The pyiceberg transform of a parsed partition transform."""
    simple = {
        "identity": IdentityTransform,
        "year": YearTransform,
        "month": MonthTransform,
        "day": DayTransform,
        "hour": HourTransform,
    }
    if field.transform in simple:
        return simple[field.transform]()
    if field.transform == "bucket":
        return BucketTransform(field.width)
    return TruncateTransform(field.width)


def partition_spec_of(fields: list[PartitionField], schema: Schema) -> PartitionSpec:
    """A partition spec over ``schema`` (partition field ids from 1000, as Iceberg does)."""
    return PartitionSpec(
        *[
            IcebergPartitionField(
                source_id=schema.find_field(f.source).field_id,
                field_id=1000 + number,
                transform=transform_of(f),
                name=f.name,
            )
            for number, f in enumerate(fields)
        ]
    )


def sort_order_of(fields: list[SortField], schema: Schema) -> SortOrder:
    """A sort order over ``schema`` (order id 1; unsorted when empty)."""
    if not fields:
        return SortOrder(order_id=0)
    return SortOrder(
        *[
            IcebergSortField(
                source_id=schema.find_field(f.column).field_id,
                transform=IdentityTransform(),
                direction=SortDirection.ASC if f.ascending else SortDirection.DESC,
                null_order=NullOrder.NULLS_FIRST if f.nulls_first else NullOrder.NULLS_LAST,
            )
            for f in fields
        ]
    )


def describe_schema(schema: Schema) -> dict[str, str]:
    """Column name -> Hive type of a table's current schema (top level)."""
    return {f.name: hive_name(f.field_type) for f in schema.fields}


def describe_partitioning(spec: PartitionSpec, schema: Schema) -> list[str]:
    """A table's partition transforms as a routine writes them (``day(ts)``)."""
    texts = []
    for field in spec.fields:
        source = schema.find_field(field.source_id).name
        transform = field.transform
        if isinstance(transform, IdentityTransform):
            texts.append(source)
        elif isinstance(transform, BucketTransform):
            texts.append(f"bucket({transform.num_buckets}, {source})")
        elif isinstance(transform, TruncateTransform):
            texts.append(f"truncate({transform.width}, {source})")
        else:
            texts.append(f"{transform!s}({source})")
    return texts


def describe_sort(order: SortOrder, schema: Schema) -> list[str]:
    """A table's sort order as :meth:`SortField.text` spells it (``id DESC NULLS LAST``)."""
    texts = []
    for field in order.fields:
        name = schema.find_field(field.source_id).name
        direction = "ASC" if field.direction == SortDirection.ASC else "DESC"
        nulls = "FIRST" if field.null_order == NullOrder.NULLS_FIRST else "LAST"
        texts.append(f"{name} {direction} NULLS {nulls}")
    return texts
