"""Checks that a caller-supplied value can live inside a MongoDB/FerretDB document.

FerretDB 1.x refuses keys with '.' or a leading '$' and arrays directly inside arrays; finding
that out at write time would lose the command, so values are checked when they enter the
aggregate and the caller is told which part is wrong.
"""

from __future__ import annotations

from typing import Any


def storage_problem(value: Any, path: str) -> str | None:
    """Why ``value`` cannot be stored (naming the offending path), or None if it can."""
    if isinstance(value, dict):
        return _dict_problem(value, path)
    if isinstance(value, list | tuple):
        return _list_problem(value, path)
    return None


def _dict_problem(value: dict[Any, Any], path: str) -> str | None:
    for key, item in value.items():
        if not isinstance(key, str):
            return f"{path}: key {key!r} must be a string"
        if "." in key or key.startswith("$"):
            return f"{path}: key {key!r} must not contain '.' or start with '$'"
        found = storage_problem(item, f"{path}.{key}")
        if found:
            return found
    return None


def _list_problem(value: list[Any] | tuple[Any, ...], path: str) -> str | None:
    for index, item in enumerate(value):
        if isinstance(item, list | tuple):
            return f"{path}.{index}: arrays inside arrays cannot be stored"
        found = storage_problem(item, f"{path}.{index}")
        if found:
            return found
    return None
