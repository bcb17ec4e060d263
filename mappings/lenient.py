"""Reading a domestic document in a semantic check, which runs even where the schema found its shape wrong."""

from __future__ import annotations

from typing import Any

__all__ = ["items", "section"]


def section(document: dict[str, Any], key: str) -> dict[str, Any]:
    """The object at `key`, or an empty one where it is missing or not an object."""
    value = document.get(key)
    return value if isinstance(value, dict) else {}


def items(document: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """The (index, item) pairs of the `items` array that are objects; none where it is not an array."""
    found = document.get("items")
    return [(i, it) for i, it in enumerate(found) if isinstance(it, dict)] if isinstance(found, list) else []
