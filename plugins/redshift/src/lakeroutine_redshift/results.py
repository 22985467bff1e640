"""Reading a statement's result set into the report: column names and the first rows."""

from __future__ import annotations

from typing import Any

_VALUE_KEYS = ("stringValue", "longValue", "doubleValue", "booleanValue", "blobValue")


def _value(field: dict[str, Any]) -> Any:
    if field.get("isNull"):
        return None
    for key in _VALUE_KEYS:
        if key in field:
            value = field[key]
            return value.hex() if isinstance(value, bytes) else value
    return None


def fetch_rows(client: Any, statement_id: str, limit: int) -> dict[str, Any]:
    """Up to ``limit`` rows of the statement's result, paging as the Data API requires."""
    columns: list[str] = []
    rows: list[list[Any]] = []
    request: dict[str, Any] = {"Id": statement_id}
    while len(rows) < limit:
        page = client.get_statement_result(**request)
        columns = columns or [c.get("name", "") for c in page.get("ColumnMetadata", [])]
        rows += [[_value(f) for f in record] for record in page.get("Records", [])]
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    return {"columns": columns, "rows": rows[:limit]}
