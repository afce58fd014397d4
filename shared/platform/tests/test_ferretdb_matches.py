"""The filter check a conditional update on FerretDB does in-process, next to MongoDB's rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ilrflow.platform.ferretdb import matches
from ilrflow.platform.idempotency import not_yet_applied
from ilrflow.platform.outbox import PENDING_FIELD, _note_events

DOCUMENT = {
    "_id": "t:L1",
    "version": 3,
    "applied_events": ["e1", "e2"],
    "read_at": None,
    "status": "raised",
    "flag": True,
}


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({"version": 3}, True),
        ({"version": 3.0}, True),
        ({"version": 4}, False),
        ({"version": 3, **not_yet_applied("e3")}, True),
        ({"version": 3, **not_yet_applied("e2")}, False),
        ({"applied_events": "e1"}, True),
        ({"applied_events": "e9"}, False),
        ({"version": {"$lte": 3}}, True),
        ({"version": {"$lt": 3}}, False),
        ({"version": {"$gt": 2, "$lte": 5}}, True),
        ({"read_at": None}, True),
        ({"missing": None}, True),
        ({"missing": {"$ne": None}}, False),
        ({"status": "raised"}, True),
        ({"status": 1}, False),
        ({"flag": 1}, False),
        ({"version": True}, False),
    ],
)
def test_simple_filters_match_as_on_mongodb(conditions: dict[str, object], expected: bool) -> None:
    assert matches(DOCUMENT, conditions) is expected


@pytest.mark.parametrize(
    "conditions",
    [
        {"$or": [{"version": 3}]},
        {"record.group": "g"},
        {"version": {"$in": [3]}},
        {"status": {"$lt": "z"}},
        {"version": {"$lte": datetime.now(UTC)}},
        {"applied_events": ["e1", "e2"]},
        {"sub": {"a": 1}},
        {"version": {}},
    ],
)
def test_anything_else_is_left_to_the_server(conditions: dict[str, object]) -> None:
    assert matches(DOCUMENT, conditions) is None


def test_the_relay_hears_of_writes_that_add_events_only() -> None:
    dirty: dict[object, None] = {}
    _note_events(dirty, "a", {"$set": {"x": 1}, "$inc": {PENDING_FIELD: 2}})
    _note_events(dirty, "b", {"$inc": {PENDING_FIELD: -2}})
    _note_events(dirty, "c", {"_id": "c", PENDING_FIELD: 1})
    _note_events(dirty, "d", {"_id": "d", PENDING_FIELD: 0})
    _note_events(dirty, "e", {"$set": {"x": 1}})
    assert list(dirty) == ["a", "c"]
