"""HTTP filters become a tenant-scoped Mongo find with keyset pagination on (time, id)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ilrflow.audit.domain import AuditQuery, build_find, paginate
from ilrflow.audit.domain.query import decode_cursor, encode_cursor

from .conftest import T0, RecordFactory


def test_no_filters_still_scopes_to_the_tenant_newest_first() -> None:
    find = build_find(AuditQuery(), tenant="acme")

    assert find.filter == {"tenant": "acme"}
    assert find.sort == [("time", -1), ("id", -1)]
    assert find.limit == 51


def test_query_string_names_map_to_stored_fields() -> None:
    query = AuditQuery.model_validate(
        {
            "learner_id": "L1",
            "tracker_id": "T1",
            "type": "ilrflow.tracker.raised.v1",
            "actor": "A1",
            "correlation_id": "C1",
            "from": "2026-01-01T00:00:00Z",
            "to": "2026-02-01",
            "order": "oldest",
            "limit": "10",
        }
    )

    find = build_find(query, tenant="acme")

    assert find.filter == {
        "tenant": "acme",
        "learner_id": "L1",
        "tracker_id": "T1",
        "event_type": "ilrflow.tracker.raised.v1",
        "actor": "A1",
        "correlation_id": "C1",
        "time": {
            "$gte": datetime(2026, 1, 1, tzinfo=UTC),
            "$lt": datetime(2026, 2, 1, tzinfo=UTC),
        },
    }
    assert find.sort == [("time", 1), ("id", 1)]
    assert find.limit == 11


def test_the_tenant_cannot_come_from_the_query_string() -> None:
    with pytest.raises(ValidationError):
        AuditQuery.model_validate({"tenant": "other"})


def test_a_backwards_window_is_refused() -> None:
    with pytest.raises(ValidationError, match="'from' must be before 'to'"):
        AuditQuery.model_validate({"from": "2026-02-01", "to": "2026-01-01"})


@pytest.mark.parametrize("cursor", ["not-base64!!", "bm90IGpzb24", "eyJ0aW1lIjoxfQ"])
def test_a_cursor_we_did_not_make_is_refused(cursor: str) -> None:
    with pytest.raises(ValidationError, match="invalid cursor"):
        AuditQuery(cursor=cursor)


def test_cursor_round_trips_the_sort_key(record_entry: RecordFactory) -> None:
    entry = record_entry(offset=4)

    key = decode_cursor(encode_cursor(entry))

    assert (key.time, key.id) == (entry.time, entry.id)


def test_newest_first_pages_continue_strictly_before_the_cursor(
    record_entry: RecordFactory,
) -> None:
    last_served = record_entry(offset=4)
    query = AuditQuery(cursor=encode_cursor(last_served))

    find = build_find(query, tenant="acme")

    assert find.filter["$or"] == [
        {"time": {"$lt": last_served.time}},
        {"time": last_served.time, "id": {"$lt": last_served.id}},
    ]


def test_oldest_first_pages_continue_strictly_after_the_cursor(
    record_entry: RecordFactory,
) -> None:
    last_served = record_entry(offset=4)

    find = build_find(AuditQuery(cursor=encode_cursor(last_served), order="oldest"), "acme")

    assert find.filter["$or"][0] == {"time": {"$gt": last_served.time}}


def test_paginate_serves_the_page_and_a_cursor_only_when_there_is_more(
    record_entry: RecordFactory,
) -> None:
    fetched = [record_entry(offset=o, time=T0 - timedelta(minutes=o)) for o in range(3)]
    query = AuditQuery(limit=2)

    page = paginate(fetched, query)
    last_page = paginate(fetched[:2], query)

    assert [e.offset for e in page.entries] == [0, 1]
    assert page.next_cursor == encode_cursor(fetched[1])
    assert last_page.next_cursor is None
