"""RFC 6902 JSON Patch: the diff the ILR service publishes on ``ilr-updated``, and its inverse.

Lists are diffed by index (records keep their position: ILR aims and statuses are only ever
appended or edited in place), so a patch reads as "aim 0 got CompStatus 6" rather than
"aim 0 was replaced".

Values are compared as JSON values, not as Python types: a record read back from the database
holds its ULN as a BSON ``Int64`` and the engine's new record a plain ``int``, and a patch must
never "replace" a value with an equal one.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

JsonPatch = list[dict[str, Any]]


def json_patch(old: Any, new: Any) -> JsonPatch:
    """The operations (add/remove/replace) that turn ``old`` into ``new``."""
    return _diff(old, new, "")


def json_equal(old: Any, new: Any) -> bool:
    """Equal as JSON values (RFC 6902 §4.6): numbers by value whatever their Python type (a BSON
    Int64, an int, a float), booleans only to booleans, objects member by member, arrays item by
    item; a datetime without tzinfo (as PyMongo returns one by default) counts as UTC."""
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(json_equal(old[k], new[k]) for k in old)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(map(json_equal, old, new))
    return _json_kind(old) == _json_kind(new) and _comparable(old) == _comparable(new)


def apply_patch(document: Any, patch: JsonPatch) -> Any:
    """Apply add/remove/replace operations to a copy of ``document`` and return it."""
    result = copy.deepcopy(document)
    for operation in patch:
        result = _apply_one(result, operation)
    return result


def _diff(old: Any, new: Any, path: str) -> JsonPatch:
    if isinstance(old, dict) and isinstance(new, dict):
        return _diff_dicts(old, new, path)
    if isinstance(old, list) and isinstance(new, list):
        return _diff_lists(old, new, path)
    if json_equal(old, new):
        return []
    return [{"op": "replace", "path": path, "value": copy.deepcopy(new)}]


def _diff_dicts(old: dict[str, Any], new: dict[str, Any], path: str) -> JsonPatch:
    operations: JsonPatch = []
    for key in old:
        if key not in new:
            operations.append({"op": "remove", "path": f"{path}/{_escape(key)}"})
    for key, value in new.items():
        child = f"{path}/{_escape(key)}"
        if key in old:
            operations.extend(_diff(old[key], value, child))
        else:
            operations.append({"op": "add", "path": child, "value": copy.deepcopy(value)})
    return operations


def _diff_lists(old: list[Any], new: list[Any], path: str) -> JsonPatch:
    common = min(len(old), len(new))
    operations: JsonPatch = []
    for index in range(common):
        operations.extend(_diff(old[index], new[index], f"{path}/{index}"))
    for index in range(common, len(new)):
        operations.append(
            {"op": "add", "path": f"{path}/{index}", "value": copy.deepcopy(new[index])}
        )
    # Remove from the end so that earlier indexes stay valid while the patch is applied.
    for index in reversed(range(common, len(old))):
        operations.append({"op": "remove", "path": f"{path}/{index}"})
    return operations


def _json_kind(value: Any) -> str | type:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value)


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _apply_one(document: Any, operation: dict[str, Any]) -> Any:
    tokens = [_unescape(t) for t in operation["path"].split("/")[1:]]
    if not tokens:
        if operation["op"] == "remove":
            raise ValueError("cannot remove the whole document")
        return copy.deepcopy(operation["value"])
    parent = document
    for token in tokens[:-1]:
        parent = parent[int(token)] if isinstance(parent, list) else parent[token]
    _apply_at(parent, tokens[-1], operation)
    return document


def _apply_at(parent: Any, token: str, operation: dict[str, Any]) -> None:
    op = operation["op"]
    if isinstance(parent, list):
        index = len(parent) if token == "-" else int(token)
        if op == "add":
            parent.insert(index, copy.deepcopy(operation["value"]))
        elif op == "remove":
            del parent[index]
        else:
            parent[index] = copy.deepcopy(operation["value"])
        return
    if op == "remove":
        del parent[token]
    elif op == "replace" and token not in parent:
        raise KeyError(f"replace of a missing member {operation['path']}")
    else:
        parent[token] = copy.deepcopy(operation["value"])
