"""Redshift SQL text built from validated routine values: every identifier is checked and
double-quoted, every literal single-quoted with quotes doubled, so no routine value can
change the statement's meaning."""

from __future__ import annotations

import re
from collections.abc import Sequence

IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,126}$")

_TYPE_RE = re.compile(
    r"""^(?:
        SMALLINT|INT2|INTEGER|INT|INT4|BIGINT|INT8|REAL|FLOAT4|FLOAT8|FLOAT|DOUBLE\ PRECISION
        |BOOLEAN|BOOL|DATE|TIME|TIMETZ|TIMESTAMP|TIMESTAMPTZ|TIME\ WITH(?:OUT)?\ TIME\ ZONE
        |TIMESTAMP\ WITH(?:OUT)?\ TIME\ ZONE|TEXT|BPCHAR|SUPER|GEOMETRY|GEOGRAPHY|HLLSKETCH
        |INTERVAL\ YEAR\ TO\ MONTH|INTERVAL\ DAY\ TO\ SECOND
        |(?:DECIMAL|NUMERIC)(?:\(\d{1,2}(?:,\ ?\d{1,2})?\))?
        |(?:CHAR|CHARACTER|NCHAR)(?:\(\d{1,4}\))?
        |(?:VARCHAR|CHARACTER\ VARYING|NVARCHAR)(?:\((?:\d{1,5}|MAX)\))?
        |(?:VARBYTE|VARBINARY|BINARY\ VARYING)(?:\((?:\d{1,7}|MAX)\))?
    )$""",
    re.VERBOSE,
)

ENCODINGS = frozenset(
    {"RAW", "AZ64", "BYTEDICT", "DELTA", "DELTA32K", "LZO", "MOSTLY8", "MOSTLY16",
     "MOSTLY32", "RUNLENGTH", "TEXT255", "TEXT32K", "ZSTD", "AUTO"}
)  # fmt: skip


def check_identifier(value: str) -> str:
    """``value`` if it is a plain Redshift name (letters, digits, ``_``, ``$``; not starting
    with a digit; at most 127 characters), else a ValueError saying so."""
    if not isinstance(value, str) or not IDENTIFIER_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid Redshift name (letters, digits, _ or $, not starting "
            "with a digit, at most 127 characters)"
        )
    return value


def check_type(value: str) -> str:
    """A Redshift column type, normalised to upper case, or a ValueError naming it."""
    normal = " ".join(str(value).upper().split()).replace(", ", ",")
    if not _TYPE_RE.match(normal):
        raise ValueError(f"{value!r} is not a Redshift column type")
    return normal


def ident(name: str) -> str:
    """``name`` double-quoted (after checking it)."""
    return '"' + check_identifier(name) + '"'


def qualified(schema: str | None, name: str) -> str:
    """``"schema"."name"`` or ``"name"``."""
    return f"{ident(schema)}.{ident(name)}" if schema else ident(name)


def literal(value: str) -> str:
    """``value`` as a single-quoted SQL string literal (quotes doubled; backslashes doubled
    too, since Redshift treats them as escapes inside COPY/UNLOAD option strings)."""
    if "\x00" in value:
        raise ValueError("a SQL string cannot contain a NUL character")
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


_SECRET_LITERAL_RE = re.compile(
    r"\b(PASSWORD|CREDENTIALS|ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|MASTER_SYMMETRIC_KEY)"
    r"(\s+(?:AS\s+)?)'(?:''|\\.|[^'\\])*'",
    re.IGNORECASE,
)


def secret_literals(sql: str) -> list[str]:
    """The secret strings in ``sql`` as written between the quotes, as JSON writes them in a
    request body, and as botocore's DEBUG log prints that body (bytes): to keep out of logs."""
    import json

    forms = set()
    for match in _SECRET_LITERAL_RE.finditer(sql):
        text = match.group(0).split("'", 1)[1][:-1]
        in_json = json.dumps(text)[1:-1]
        in_bytes = repr(in_json.encode() + b"'\"")[2:-4]  # as inside b'...', ' escaped
        forms |= {text, in_json, in_bytes}
    return sorted(form for form in forms if form)


def mask_secrets(sql: str) -> str:
    """``sql`` with the string after PASSWORD, CREDENTIALS, ACCESS_KEY_ID,
    SECRET_ACCESS_KEY, SESSION_TOKEN or MASTER_SYMMETRIC_KEY masked: fit for an error."""
    return _SECRET_LITERAL_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}'***'", sql)


def column_list(names: Sequence[str]) -> str:
    """``"a", "b"``: checked, quoted names for a column list."""
    return ", ".join(ident(n) for n in names)
