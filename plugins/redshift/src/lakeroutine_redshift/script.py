"""Splitting a SQL script into statements, and finding the ``:name`` parameters each uses.

Semicolons and colons inside quotes, comments and ``$$`` bodies do not count. The Data API
runs one statement per call, so a script is sent statement by statement, in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOLLAR_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass
class Statement:
    """One statement of a script and the parameter names it refers to."""

    text: str
    parameters: list[str] = field(default_factory=list)


def split_sql(script: str) -> list[Statement]:
    """The statements of ``script`` in order (empty and comment-only ones dropped)."""
    statements: list[Statement] = []
    start, i, n = 0, 0, len(script)
    params: list[str] = []
    has_code = False
    while i < n:
        char = script[i]
        if char in "'\"":
            end = _closing_quote(script, i)
            has_code, i = True, end
        elif script.startswith("--", i):
            newline = script.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif script.startswith("/*", i):
            close = script.find("*/", i + 2)
            i = n if close < 0 else close + 2
        elif char == "$" and (match := _DOLLAR_RE.match(script, i)):
            close = script.find(match.group(0), match.end())
            has_code, i = True, (n if close < 0 else close + len(match.group(0)))
        elif char == ":" and script.startswith("::", i):
            has_code, i = True, i + 2
        elif char == ":" and (match := _NAME_RE.match(script, i + 1)):
            if match.group(0) not in params:
                params.append(match.group(0))
            has_code, i = True, match.end()
        elif char == ";":
            if has_code:
                statements.append(Statement(script[start:i].strip(), params))
            start, i, params, has_code = i + 1, i + 1, [], False
        else:
            has_code = has_code or not char.isspace()
            i += 1
    if has_code:
        statements.append(Statement(script[start:].strip(), params))
    return statements


def _closing_quote(script: str, start: int) -> int:
    """Index just past the quote closing the one at ``start`` (doubled quotes escape)."""
    quote = script[start]
    i = start + 1
    while i < len(script):
        if script[i] == "\\" and quote == "'":
            i += 2
            continue
        if script[i] == quote:
            if script.startswith(quote * 2, i):
                i += 2
                continue
            return i + 1
        i += 1
    return len(script)
