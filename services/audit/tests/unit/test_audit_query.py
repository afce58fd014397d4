"""The query string of /v1/audit/events, and its keyset cursor on the ingest sequence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from ilrflow.audit.domain import AuditQuery
from ilrflow.audit.domain.query import decode_cursor, encode_cursor


def test_query_string_names_map_to_the_query() -> None:
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

    assert (query.learner_id, query.tracker_id, query.event_type) == (
        "L1",
        "T1",
        "ilrflow.tracker.raised.v1",
    )
    assert (query.actor, query.correlation_id, query.order, query.limit) == (
        "A1",
        "C1",
        "oldest",
        10,
    )
    assert query.from_time == datetime(2026, 1, 1, tzinfo=UTC)
    assert query.to_time == datetime(2026, 2, 1, tzinfo=UTC)


def test_the_tenant_cannot_come_from_the_query_string() -> None:
    with pytest.raises(ValidationError):
        AuditQuery.model_validate({"tenant": "other"})


def test_a_backwards_window_is_refused() -> None:
    with pytest.raises(ValidationError, match="'from' must be before 'to'"):
        AuditQuery.model_validate({"from": "2026-02-01", "to": "2026-01-01"})


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!!",
        "bm90IGpzb24",
        "eyJ0aW1lIjoxfQ",
        "eyJzZXEiOi0xfQ",  # {"seq":-1}
        "eyJzZXEiOiIxIn0",  # {"seq":"1"}
        # the earlier (time, id) form: {"time":"2026-01-05T10:00:00+00:00","id":"t:0:1"}
        "eyJ0aW1lIjoiMjAyNi0wMS0wNVQxMDowMDowMCswMDowMCIsImlkIjoidDowOjEifQ",
    ],
)
def test_a_cursor_we_did_not_make_is_refused(cursor: str) -> None:
    with pytest.raises(ValidationError, match="invalid cursor"):
        AuditQuery(cursor=cursor)


def test_cursor_round_trips_the_sequence() -> None:
    assert decode_cursor(encode_cursor(0)) == 0
    assert decode_cursor(encode_cursor(123_456_789)) == 123_456_789


@pytest.mark.parametrize(
    ("given", "types"),
    [
        ("ilrflow.tracker.processed.v1", ("ilrflow.tracker.processed.v1",)),
        ("tracker-processed", ("ilrflow.tracker.processed.v1",)),
        ("learner-updated", ("ilrflow.learner.updated.v1", "ilrflow.staff.updated.v1")),
        (None, ()),
    ],
)
def test_type_takes_an_event_type_or_the_topic_that_carries_it(
    given: str | None, types: tuple[str, ...]
) -> None:
    query = AuditQuery.model_validate({"type": given, "learner_id": "L1"})

    assert query.event_types == types
    walks = query.one_query_per_type()
    assert [q.event_type for q in walks] == (list(types) or [None])
    assert all(q.learner_id == "L1" for q in walks)


@pytest.mark.parametrize("given", ["tracker.processed", "tracker-processed.v1", "x", ""])
def test_an_unknown_type_is_refused_not_matched_against_nothing(given: str) -> None:
    with pytest.raises(ValidationError, match="unknown event type"):
        AuditQuery.model_validate({"type": given})


def test_reads_of_the_audit_log_are_shown_only_when_asked_for() -> None:
    accessed = "ilrflow.audit.accessed.v1"

    assert not AuditQuery().shows(accessed)
    assert AuditQuery().shows("ilrflow.tracker.raised.v1")
    assert AuditQuery().shows(None)
    assert AuditQuery(include_access=True).shows(accessed)
    assert AuditQuery.model_validate({"type": accessed}).shows(accessed)
    assert AuditQuery.model_validate({"type": "audit-access"}).shows(accessed)
