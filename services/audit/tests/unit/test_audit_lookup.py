"""Lookup documents: which key a query walks, how refs fill pages, and how the refs of a bucket
are filtered, ordered and cut into keyset pages, checked against a plain sort of the entries."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from ilrflow.audit.domain import AuditEntry, AuditQuery
from ilrflow.audit.domain.lookup import (
    PAGE_CAPACITY,
    BucketFill,
    LookupKey,
    Placement,
    Ref,
    bucket_of,
    bucket_span,
    buckets_to_read,
    group_refs,
    key_for,
    paginate,
    place,
    ref_from_text,
    ref_of,
    ref_to_text,
    select,
)
from ilrflow.audit.domain.query import encode_cursor

from .conftest import T0, RecordFactory, processed, raised


def test_the_most_selective_filter_given_is_walked() -> None:
    everything = AuditQuery.model_validate(
        {
            "learner_id": "L1",
            "tracker_id": "T1",
            "type": "tracker-raised",
            "actor": "A",
            "correlation_id": "C",
        }
    )

    assert key_for(everything, "acme") == LookupKey("acme", "correlation", "C")
    assert key_for(AuditQuery(learner_id="L1", actor="A"), "acme").field == "learner"
    assert key_for(AuditQuery(type="tracker-raised", actor="A"), "acme").field == "actor"  # type: ignore[call-arg]
    assert key_for(AuditQuery(), "acme") == LookupKey("acme", "all", "")


def test_an_entry_is_filed_under_every_key_it_has_and_tenantless_ones_nowhere(
    record_entry: RecordFactory,
) -> None:
    entry = record_entry(raised("T9", "L9"))
    bare = entry.model_copy(update={"tenant": None})

    grouped = group_refs([entry, bare])

    assert {key.field for key in grouped} == {
        "all",
        "learner",
        "tracker",
        "type",
        "actor",
        "correlation",
    }
    assert grouped[LookupKey("acme", "all", "")] == {"2026010510": [ref_of(entry)]}
    assert grouped[LookupKey("acme", "learner", "L9")] == {"20260105": [ref_of(entry)]}


def test_busy_fields_are_bucketed_by_hour_and_sparse_ones_by_day() -> None:
    at = datetime(2026, 1, 5, 10, 59, 59, 999000, tzinfo=UTC)

    assert bucket_of("all", at) == "2026010510"
    assert bucket_of("learner", at) == "20260105"
    assert bucket_span("2026010510") == (
        at.replace(minute=0, second=0, microsecond=0),
        at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1),
    )
    assert bucket_span("20260105")[1] - bucket_span("20260105")[0] == timedelta(days=1)


def test_a_ref_survives_its_text_form(record_entry: RecordFactory) -> None:
    ref = ref_of(record_entry(time=T0 + timedelta(microseconds=123_456)))

    assert ref_from_text(ref_to_text(ref)) == ref
    assert ref.time == T0 + timedelta(milliseconds=123)  # what the database keeps


def test_refs_fill_the_last_page_then_open_new_ones() -> None:
    placements, after = place(None, 3)
    assert (placements, after) == ([Placement(0, 0, 3)], BucketFill(1, 3))

    placements, after = place(BucketFill(1, PAGE_CAPACITY - 1), PAGE_CAPACITY + 2)
    assert placements == [
        Placement(0, 0, 1),
        Placement(1, 1, PAGE_CAPACITY + 1),
        Placement(2, PAGE_CAPACITY + 1, PAGE_CAPACITY + 2),
    ]
    assert after == BucketFill(3, 1)


def test_buckets_are_read_in_order_within_the_window_and_past_the_cursor() -> None:
    pages = {"2026010509": 1, "2026010510": 2, "2026010511": 1, "2026010512": 0}
    cursor_at_10_30 = encode_cursor(T0 + timedelta(minutes=30), "x")

    assert buckets_to_read(pages, AuditQuery()) == [
        ("2026010511", 1),
        ("2026010510", 2),
        ("2026010509", 1),
    ]
    window = AuditQuery.model_validate(
        {"from": "2026-01-05T10:00:00Z", "to": "2026-01-05T11:00:00Z", "order": "oldest"}
    )
    assert buckets_to_read(pages, window) == [("2026010510", 2)]
    assert [b for b, _ in buckets_to_read(pages, AuditQuery(cursor=cursor_at_10_30))] == [
        "2026010510",
        "2026010509",
    ]
    oldest_after = AuditQuery(cursor=cursor_at_10_30, order="oldest")
    assert [b for b, _ in buckets_to_read(pages, oldest_after)] == ["2026010510", "2026010511"]


def test_a_ref_stored_twice_by_a_replay_is_served_once(record_entry: RecordFactory) -> None:
    ref = ref_of(record_entry())

    assert select([ref, ref], AuditQuery()) == [ref]


@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_walking_buckets_page_by_page_matches_a_plain_sort(
    record_entry: RecordFactory, order: str
) -> None:
    entries = _shuffled_log(record_entry)
    query = AuditQuery.model_validate(
        {"learner_id": "L1", "from": "2026-01-05T10:30:00Z", "order": order, "limit": 7}
    )
    expected = sorted(
        (e for e in entries if e.learner_id == "L1" and e.time >= query.from_time),  # type: ignore[operator]
        key=lambda e: (e.time, e.id),
        reverse=order == "newest",
    )

    served = _all_pages(entries, query)

    assert served == [e.id for e in expected]
    assert len(served) > 2 * query.limit  # several pages, several buckets


def test_every_filter_is_applied_to_the_refs(record_entry: RecordFactory) -> None:
    entries = _shuffled_log(record_entry)
    target = entries[5]
    for name, value in [
        ("learner_id", target.learner_id),
        ("tracker_id", target.tracker_id),
        ("type", target.event_type),
        ("actor", target.actor),
        ("correlation_id", target.correlation_id),
    ]:
        query = AuditQuery.model_validate({name: value, "type": target.event_type, "limit": 500})
        field = "event_type" if name == "type" else name
        expected = {
            e.id
            for e in entries
            if getattr(e, field) == value and e.event_type == target.event_type
        }
        assert set(_all_pages(entries, query)) == expected, name


def _shuffled_log(record_entry: RecordFactory) -> list[AuditEntry]:
    """Entries over three hours, two learners, two actors, arriving out of time order."""
    rng = random.Random(7)
    entries = []
    for n in range(120):
        payload = (raised if n % 3 else processed)(f"T{n % 9}", f"L{n % 2}")
        entries.append(
            record_entry(
                payload,
                offset=n,
                time=T0 + timedelta(seconds=rng.randrange(3 * 3600)),
                actor=f"A{n % 2}",
                correlation_id=f"C{n % 5}",
            )
        )
    rng.shuffle(entries)
    return entries


def _all_pages(entries: list[AuditEntry], query: AuditQuery) -> list[str]:
    """Serve every page the way the service does: walk the buckets of the query's key."""
    key = key_for(query, "acme")
    buckets = group_refs(entries)[key]
    pages = {bucket: 1 for bucket in buckets}
    served: list[str] = []
    while True:
        chosen: list[Ref] = []
        for bucket, _ in buckets_to_read(pages, query):
            chosen += select(buckets[bucket], query)
            if len(chosen) > query.limit:
                break
        page = paginate(chosen[: query.limit + 1], query.limit)
        served += [ref.entry_id for ref in page.refs]
        if page.next_cursor is None:
            return served
        query = query.model_copy(update={"cursor": page.next_cursor})
