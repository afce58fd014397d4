"""Lookup documents: which key a query walks, how refs fill pages, and how the refs of a bucket
are filtered, ordered by the ingest sequence and cut into keyset pages, checked against a plain
sort of the entries."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from ilrflow.audit.domain import AuditEntry, AuditQuery
from ilrflow.audit.domain.lookup import (
    BUCKET_SPAN,
    PAGE_CAPACITY,
    BucketFill,
    BucketHead,
    BucketInfo,
    LookupKey,
    Placement,
    Ref,
    bucket_after,
    bucket_of,
    bucket_span,
    buckets_to_read,
    group_refs,
    head_moved,
    key_for,
    paginate,
    place,
    ref_from_text,
    ref_of,
    ref_to_text,
    select,
)
from ilrflow.audit.domain.query import encode_cursor
from ilrflow.audit.domain.sequence import numbered

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
    entry = record_entry(raised("T9", "L9")).model_copy(update={"sequence": 4321})
    bare = entry.model_copy(update={"tenant": None, "sequence": None})

    grouped = group_refs([entry, bare])

    assert {key.field for key in grouped} == {
        "all",
        "learner",
        "tracker",
        "type",
        "actor",
        "correlation",
    }
    assert grouped[LookupKey("acme", "all", "")] == {"000000000002": [ref_of(entry)]}
    assert grouped[LookupKey("acme", "learner", "L9")] == {"000000000000": [ref_of(entry)]}


def test_buckets_are_ranges_of_the_sequence_that_sort_by_name() -> None:
    assert bucket_of("all", 0) == "000000000000"
    assert bucket_of("all", PAGE_CAPACITY - 1) == "000000000000"
    assert bucket_of("all", PAGE_CAPACITY) == "000000000001"
    assert bucket_span("all", "000000000003") == (3 * PAGE_CAPACITY, 4 * PAGE_CAPACITY)
    assert BUCKET_SPAN["all"] < BUCKET_SPAN["type"] < BUCKET_SPAN["learner"]
    names = [bucket_of("learner", n) for n in (5, 10**6, 10**8, 10**11)]
    assert names == sorted(names)


def test_a_ref_survives_its_text_form(record_entry: RecordFactory) -> None:
    entry = record_entry(time=T0 + timedelta(microseconds=123_456))
    ref = ref_of(entry.model_copy(update={"sequence": 17}))

    assert ref_from_text(ref_to_text(ref)) == ref
    assert ref.time == T0 + timedelta(milliseconds=123)  # what the database keeps
    assert ref.sequence == 17


def test_an_entry_without_a_sequence_cannot_be_filed(record_entry: RecordFactory) -> None:
    with pytest.raises(ValueError, match="no ingest sequence"):
        ref_of(record_entry())


def test_a_head_records_whole_hours_and_moves_only_when_a_batch_adds_a_page_or_an_hour() -> None:
    hour = timedelta(hours=1)
    new = bucket_after(None, BucketFill(1, 3), T0 + hour / 4, T0 + hour / 2)
    assert new == BucketHead(1, 3, T0, T0 + hour)
    assert head_moved(None, new)

    same_hour = bucket_after(new, BucketFill(1, 9), T0 + hour / 3, T0 + hour * 3 / 4)
    assert same_hour == BucketHead(1, 9, T0, T0 + hour)
    assert not head_moved(new, same_hour)  # the fill alone is not stored

    assert head_moved(new, bucket_after(new, BucketFill(2, 1), T0, T0))  # a page
    later = bucket_after(new, BucketFill(1, 9), T0, T0 + hour)
    assert later == BucketHead(1, 9, T0, T0 + 2 * hour)  # an hour
    assert head_moved(new, later)
    earlier = bucket_after(new, BucketFill(1, 9), T0 - hour / 2, T0)  # a late entry
    assert earlier.first == T0 - hour
    assert head_moved(new, earlier)


def test_a_bucket_stored_without_times_stays_without_and_is_always_read() -> None:
    untimed = BucketHead(1, 5, None, None)
    after = bucket_after(untimed, BucketFill(1, 6), T0, T0)
    assert after == BucketHead(1, 6, None, None)
    assert not head_moved(untimed, after)


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


def test_buckets_are_read_in_order_within_the_window_past_the_cursor_and_below_the_mark() -> None:
    hour = timedelta(hours=1)
    buckets = {
        "000000000000": BucketInfo(1, T0 - hour, T0 - hour / 2),
        "000000000001": BucketInfo(2, T0, T0 + hour / 2),
        "000000000002": BucketInfo(1),  # written before heads kept times: always read
        "000000000003": BucketInfo(0),
        "000000000004": BucketInfo(1, T0, T0),
    }
    below = 4 * PAGE_CAPACITY  # bucket 4 is still being written
    in_bucket_1 = encode_cursor(PAGE_CAPACITY + 5)

    def read(query: AuditQuery) -> list[str]:
        return [name[-1] for name, _ in buckets_to_read("all", buckets, query, below)]

    assert buckets_to_read("all", buckets, AuditQuery(), below) == [
        ("000000000002", 1),
        ("000000000001", 2),
        ("000000000000", 1),
    ]
    window = AuditQuery.model_validate({"from": T0.isoformat(), "order": "oldest"})
    assert read(window) == ["1", "2"]
    assert read(AuditQuery.model_validate({"to": T0.isoformat()})) == ["2", "0"]
    assert read(AuditQuery(cursor=in_bucket_1)) == ["1", "0"]
    assert read(AuditQuery(cursor=in_bucket_1, order="oldest")) == ["1", "2"]
    last_of_1 = encode_cursor(2 * PAGE_CAPACITY - 1)
    assert read(AuditQuery(cursor=last_of_1, order="oldest")) == ["2"]


def test_a_ref_stored_twice_by_a_replay_is_served_once(record_entry: RecordFactory) -> None:
    ref = ref_of(record_entry().model_copy(update={"sequence": 0}))

    assert select([ref, ref], AuditQuery(), below=1) == [ref]


def test_refs_at_or_above_the_mark_are_not_served(record_entry: RecordFactory) -> None:
    entries = numbered([record_entry(offset=n) for n in range(4)], {"acme": 10})
    refs = [ref_of(e) for e in entries]

    assert [r.sequence for r in select(refs, AuditQuery(order="oldest"), below=12)] == [10, 11]
    assert select(refs, AuditQuery(), below=10) == []


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
        key=lambda e: e.sequence or 0,
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
    """Entries over three hours, two learners, two actors, stored out of time order (numbered
    in the order stored), filed in shuffled order."""
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
    entries = numbered(entries, {"acme": 0})
    rng.shuffle(entries)
    return entries


def _all_pages(entries: list[AuditEntry], query: AuditQuery) -> list[str]:
    """Serve every page the way the service does: walk the buckets of the query's key."""
    key = key_for(query, "acme")
    buckets = group_refs(entries)[key]
    heads = {bucket: BucketInfo(1) for bucket in buckets}
    below = len(entries)
    served: list[str] = []
    while True:
        chosen: list[Ref] = []
        for bucket, _ in buckets_to_read(key.field, heads, query, below):
            chosen += select(buckets[bucket], query, below)
            if len(chosen) > query.limit:
                break
        page = paginate(chosen[: query.limit + 1], query.limit)
        served += [ref.entry_id for ref in page.refs]
        if page.next_cursor is None:
            return served
        query = query.model_copy(update={"cursor": page.next_cursor})
