"""Numbers with their nouns in agreement, for lines a user reads ("1 file", "2 files")."""

from __future__ import annotations


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``number`` followed by ``noun``, or its plural (``noun + "s"`` unless given)."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
