"""Helpers for the catalogue tests: parse and return the canonical form, or the problems."""

from __future__ import annotations

from typing import Any

import pytest

from ilrflow.contracts.trackers import ChangesInvalid, parse_changes


def canonical(tracker_type: str, changes: dict[str, Any], **options: Any) -> dict[str, Any]:
    return parse_changes(tracker_type, changes, **options).model_dump(mode="json")


def problems(tracker_type: str, changes: Any, **options: Any) -> dict[str, str]:
    """Every problem as {field: reason}; fails the test if the changes were accepted."""
    with pytest.raises(ChangesInvalid) as caught:
        parse_changes(tracker_type, changes, **options)
    found = {p["field"]: p["reason"] for p in caught.value.problems}
    assert len(found) == len(caught.value.problems), "one problem per field"
    assert all(reason for reason in found.values())
    return found
