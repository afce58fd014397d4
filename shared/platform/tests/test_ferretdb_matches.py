"""The filter check a conditional update on FerretDB does in-process, next to MongoDB's rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ilrflow.platform.ferretdb import matches, with_pushes_sliced
from ilrflow.platform.idempotency import RecordPosition, applied_filter, not_yet_applied
from ilrflow.platform.outbox import PENDING_FIELD, _note_events

DOCUMENT = {
    "_id": "t:L1",
    "version": 3,
    "applied_events": ["e1", "e2"],
    "read_at": None,
    "status": "raised",
    "flag": True,
    "applied_offsets": {"tracker-processed:2": 7, "lane-acme/tracker-processed:0": 1},
    "recent_events": ["e4"],
    "tags": [{"a": 1}],
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
        ({"applied_offsets.tracker-processed:2": 7}, True),
        ({"applied_offsets.tracker-processed:2": {"$not": {"$gte": 7}}}, False),
        ({"applied_offsets.tracker-processed:2": {"$not": {"$gte": 8}}}, True),
        ({"applied_offsets.tracker-processed:9": {"$not": {"$gte": 0}}}, True),
        ({"applied_offsets.tracker-processed:9": {"$gte": 0}}, False),
        ({"missing.deeper": {"$lt": 3}}, False),
        ({"status.deeper": None}, True),
        ({"read_at": {"$gt": 0}}, False),
        (applied_filter("e9", RecordPosition("tracker-processed", 2, 8)), True),
        (applied_filter("e9", RecordPosition("tracker-processed", 2, 7)), False),
        (applied_filter("e9", RecordPosition("lane-acme.tracker-processed", 0, 2)), True),
        (applied_filter("e9", RecordPosition("tracker-processed", 3, 0)), True),
        (applied_filter("e4", RecordPosition("tracker-processed", 3, 0)), False),
        (applied_filter("e1", RecordPosition("tracker-processed", 3, 0)), False),
    ],
)
def test_simple_filters_match_as_on_mongodb(conditions: dict[str, object], expected: bool) -> None:
    assert matches(DOCUMENT, conditions) is expected


@pytest.mark.parametrize(
    "conditions",
    [
        {"$or": [{"version": 3}]},
        {"tags.a": 1},
        {"version": {"$not": 3}},
        {"version": {"$not": {"$in": [3]}}},
        {"applied_events": {"$not": {"$gte": 1}}},
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


def test_a_sliced_push_becomes_a_set_of_the_sliced_array() -> None:
    """FerretDB 1.24 ignores $slice: the wrapper writes what MongoDB would leave."""
    update = {
        "$inc": {"version": 1},
        "$set": {"x": 1},
        "$push": {
            "recent_events": {"$each": ["e4", "e5"], "$slice": -2},
            "outbox": {"$each": [{"e": "a"}]},
        },
    }
    assert with_pushes_sliced({"recent_events": ["e2", "e3"]}, update) == {
        "$inc": {"version": 1},
        "$set": {"x": 1, "recent_events": ["e4", "e5"]},
        "$push": {"outbox": {"$each": [{"e": "a"}]}},
    }
    only = {"$push": {"recent_events": {"$each": ["e1"], "$slice": -3}}}
    assert with_pushes_sliced({}, only) == {"$set": {"recent_events": ["e1"]}}
    assert with_pushes_sliced(
        {"recent_events": ["a", "b"]}, {"$push": {"n": {"$each": [1], "$slice": 1}}}
    ) == {"$set": {"n": [1]}}


def test_a_push_the_wrapper_cannot_slice_is_left_to_the_server() -> None:
    unsliced = {"$push": {"outbox": {"$each": [1]}}}
    assert with_pushes_sliced({"outbox": []}, unsliced) == unsliced
    not_an_array = {"$push": {"n": {"$each": [1], "$slice": -1}}}
    assert with_pushes_sliced({"n": 5}, not_an_array) == not_an_array
