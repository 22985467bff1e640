"""The tasks' outputs worth seeing on a terminal after a run: query previews and counts.

Only small outputs are shown (a line of scalar values, a preview of a few rows); the whole
of every output is in ``--report``. ``lakeroutine run --no-outputs`` turns this off.
"""

from __future__ import annotations

from typing import Any

from lakeroutine.results import SUCCEEDED, RunResult

MAX_LINE = 160
MAX_ROWS = 10
MAX_LINES = 40


def small_outputs(result: RunResult) -> str:
    """Text showing each succeeded task's small output, or '' when there is none."""
    lines: list[str] = []
    for item in result.tasks:
        if item.status != SUCCEEDED or not isinstance(item.output, dict) or not item.output:
            continue
        shown = _describe(f"{item.executor}.{item.task}", item.output)
        if len(lines) + len(shown) > MAX_LINES:
            lines.append("(more outputs in --report)")
            break
        lines += shown
    return "".join(line + "\n" for line in lines)


def _describe(label: str, output: dict[str, Any]) -> list[str]:
    columns, preview = output.get("columns"), output.get("preview")
    head = f"{label}:"
    for key, value in output.items():  # numbers first, then texts while the line has room
        if isinstance(value, (int, float, bool)):
            head += f"{',' if head[-1] != ':' else ''} {key}={value}"
    for key, value in output.items():
        item = f"{',' if head[-1] != ':' else ''} {key}={value}"
        if isinstance(value, str) and len(head) + len(item) <= MAX_LINE:
            head += item
    lines = [head] if head != f"{label}:" else []
    if isinstance(columns, list) and isinstance(preview, list) and columns:
        if not lines:
            lines.append(f"{label}:")
        rows = [[str(c) for c in columns]] + [
            ["" if v is None else str(v) for v in row] for row in preview[:MAX_ROWS]
        ]
        widths = [
            max(len(row[i]) if i < len(row) else 0 for row in rows) for i in range(len(columns))
        ]
        for row in rows:
            cells = (v.ljust(w) for v, w in zip(row, widths, strict=False))
            lines.append("  " + "  ".join(cells).rstrip())
        if len(preview) > MAX_ROWS:
            lines.append(f"  ... ({len(preview) - MAX_ROWS} more preview rows in --report)")
    return lines
