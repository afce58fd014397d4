"""ILR changes as a person reads them: each field of a JSON Patch with its value before and after.

The APIs give an ILR version's change (and a tracker's preview) as RFC 6902 JSON Patch operations,
which say only the new value; the value before is read from the ILR the patch applies to.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ABSENT = "—"  # what a field that did not exist (or no longer exists) shows


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class VersionChange:
    version: int
    at: str
    actor: str
    cause: str
    tracker_id: str | None
    outcome: str
    reason: str
    changes: list[FieldChange]


def pointer_parts(pointer: str) -> list[str]:
    """The reference tokens of an RFC 6901 JSON Pointer (``/a/0/b`` → ``["a", "0", "b"]``)."""
    if not pointer:
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def resolve(document: Any, pointer: str) -> Any:
    """The value at ``pointer``, or None when the path does not exist."""
    return _walk(document, pointer_parts(pointer))


def _walk(document: Any, parts: Sequence[str]) -> Any:
    value = document
    for part in parts:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def apply_patch(document: Any, patch: Sequence[Mapping[str, Any]]) -> Any:
    """``document`` with the ``add``/``replace``/``remove`` operations of ``patch`` applied (a
    copy: the argument is left as it was). Operations whose parent path is missing are skipped:
    a rendering of history must not fail on one odd entry."""
    result = copy.deepcopy(document)
    for operation in patch:
        parts = pointer_parts(str(operation["path"]))
        if not parts:
            result = copy.deepcopy(operation.get("value"))
            continue
        _apply_one(
            _walk(result, parts[:-1]), parts[-1], str(operation["op"]), operation.get("value")
        )
    return result


def _apply_one(parent: Any, key: str, op: str, value: Any) -> None:
    if isinstance(parent, dict):
        if op in ("add", "replace"):
            parent[key] = copy.deepcopy(value)
        elif op == "remove":
            parent.pop(key, None)
    elif isinstance(parent, list):
        index = len(parent) if key == "-" else int(key) if key.isdigit() else -1
        if op == "add" and 0 <= index <= len(parent):
            parent.insert(index, copy.deepcopy(value))
        elif op == "replace" and 0 <= index < len(parent):
            parent[index] = copy.deepcopy(value)
        elif op == "remove" and 0 <= index < len(parent):
            del parent[index]


def field_changes(before: Any, patch: Sequence[Mapping[str, Any]]) -> list[FieldChange]:
    """Each operation of ``patch`` as field, value before (read from ``before``) and after."""
    return [
        FieldChange(
            field=field_name(str(operation["path"])),
            before=display(resolve(before, str(operation["path"]))),
            after=ABSENT if operation["op"] == "remove" else display(operation.get("value")),
        )
        for operation in patch
    ]


def version_changes(history: Sequence[Mapping[str, Any]]) -> list[VersionChange]:
    """Each ILR version (oldest first, as the history lists them) with its change as before →
    after, the ILR before it being the previous versions' patches applied in turn."""
    state: Any = {}
    versions = []
    for entry in sorted(history, key=lambda e: int(e["version"])):
        patch = entry.get("patch") or []
        versions.append(
            VersionChange(
                version=int(entry["version"]),
                at=str(entry.get("at", "")),
                actor=str(entry.get("actor", "")),
                cause=str(entry.get("cause", "")),
                tracker_id=entry.get("tracker_id"),
                outcome=str(entry.get("outcome", "")),
                reason=str(entry.get("reason", "")),
                changes=field_changes(state, patch),
            )
        )
        state = apply_patch(state, patch)
    return versions


def field_name(pointer: str) -> str:
    """``/LearningDelivery/0/CompStatus`` → ``LearningDelivery 1 / CompStatus`` (1-based, as a
    person counts)."""
    parts = [str(int(p) + 1) if p.isdigit() else p for p in pointer_parts(pointer)]
    return " / ".join(parts) if parts else "(whole record)"


def display(value: Any) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {display(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(f"({display(v)})" if isinstance(v, Mapping) else display(v) for v in value)
    return str(value)
