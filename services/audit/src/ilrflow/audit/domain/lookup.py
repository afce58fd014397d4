"""Lookup documents: how ``/v1/audit/events`` and the exports find entries without reading the log.

FerretDB 1.24 on SQLite pushes a query down only when its filter is one ``_id`` equality, so the
log is searched through documents read by ``_id`` alone, written at ingest:

- one *lookup key* per (tenant, field, value): ``all`` (the tenant-wide listing), ``correlation``,
  ``tracker``, ``learner``, ``actor`` and ``type``;
- per key, *buckets* of the tenant's ingest sequence (``domain.sequence``; 2,000 numbers for the
  tenant-wide listing, more for the sparser fields), disjoint, so reading them in order and
  sorting inside each one gives the order served; the head keeps each bucket's range of event
  times too, so a ``from``/``to`` window skips the buckets outside it;
- per bucket, *pages* of at most ``PAGE_CAPACITY`` refs, appended in ingest order; a ref carries
  the entry's sequence, time, id and every filterable field, so the other filters, the time
  window and the cursor are applied to refs, and only the entries of the page served are fetched;
- per key, a *head* saying which buckets exist, how many pages each has and the whole hours
  of event time it spans (``bucket_after``), written only when one of those moves.

Refs are written after the entries they point to, and a reader serves only sequences below the
tenant's ``visible_below`` mark, so a ref is served only once its entry, and every entry numbered
before it, can be. A crash between writing a batch's refs and recording the head replays the
batch onto the same pages with the same sequences: a ref may then be stored twice, and
``select`` keeps one. Everything here is pure; the repository does the reads and writes, the
service walks the buckets.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

from ilrflow.audit.domain.query import AuditQuery, decode_cursor, encode_cursor
from ilrflow.audit.domain.records import EPOCH, AuditEntry, normalise_time

LookupField = Literal["all", "correlation", "tracker", "learner", "actor", "type"]
# A correlation (one tracker's story) or a tracker has a handful of entries, a learner a few
# hundred, an actor or a type thousands: the first one given is the one walked.
MOST_SELECTIVE_FIRST: tuple[LookupField, ...] = (
    "correlation",
    "tracker",
    "learner",
    "actor",
    "type",
)
PAGE_CAPACITY = 2000
# The grain of the event-time range a head records per bucket (wider than the refs' own range:
# a window reads a bucket that may hold what it selects, and filters the refs exactly).
TIME_GRAIN = timedelta(hours=1)
# How many of the tenant's sequence numbers a bucket spans: about one page for the tenant-wide
# listing, more for the fields that hold a share of it (a type, an actor) or a sliver (a learner).
BUCKET_SPAN: dict[LookupField, int] = {
    "all": PAGE_CAPACITY,
    "type": 5 * PAGE_CAPACITY,
    "actor": 5 * PAGE_CAPACITY,
    "learner": 50 * PAGE_CAPACITY,
    "tracker": 50 * PAGE_CAPACITY,
    "correlation": 50 * PAGE_CAPACITY,
}


class Ref(NamedTuple):
    """What a lookup page holds about one entry: its sort key and every filterable field."""

    time: datetime
    entry_id: str
    event_type: str | None = None
    actor: str | None = None
    learner_id: str | None = None
    tracker_id: str | None = None
    correlation_id: str | None = None
    sequence: int = -1  # refs written before the ingest sequence existed have none

    def values(self) -> dict[LookupField, str | None]:
        return {
            "correlation": self.correlation_id,
            "tracker": self.tracker_id,
            "learner": self.learner_id,
            "actor": self.actor,
            "type": self.event_type,
        }


class LookupKey(NamedTuple):
    tenant: str
    field: LookupField
    value: str

    @property
    def id(self) -> str:
        return "\x1f".join(self)


class BucketFill(NamedTuple):
    pages: int
    fill: int  # refs on the last page


class BucketHead(NamedTuple):
    """What the writer knows of a bucket: the pages its head counts, the refs on the last one
    (``None`` until the writer has read that page) and the hours of event time the head says
    it spans."""

    pages: int
    fill: int | None
    first: datetime | None
    last: datetime | None


class BucketInfo(NamedTuple):
    """What a reader needs of a bucket: its page count and the range of its refs' event times
    (unknown for buckets written before the head recorded them)."""

    pages: int
    first: datetime | None = None
    last: datetime | None = None


class Placement(NamedTuple):
    page: int
    start: int
    end: int


def ref_of(entry: AuditEntry) -> Ref:
    if entry.sequence is None:
        raise ValueError(f"{entry.id} has no ingest sequence: number entries before filing them")
    return Ref(
        time=normalise_time(entry.time),  # what the database keeps: milliseconds
        entry_id=entry.id,
        event_type=entry.event_type,
        actor=entry.actor,
        learner_id=entry.learner_id,
        tracker_id=entry.tracker_id,
        correlation_id=entry.correlation_id,
        sequence=entry.sequence,
    )


def ref_to_text(ref: Ref) -> str:
    """A compact, unambiguous text form: a page holds thousands of these."""
    millis = (ref.time - EPOCH) // timedelta(milliseconds=1)
    return json.dumps([millis, *ref[1:]], separators=(",", ":"))


def ref_from_text(text: str) -> Ref:
    millis, *rest = json.loads(text)
    return Ref(EPOCH + timedelta(milliseconds=millis), *rest)


def keys_of(tenant: str, ref: Ref) -> list[LookupKey]:
    given = [LookupKey(tenant, field, value) for field, value in ref.values().items() if value]
    return [LookupKey(tenant, "all", ""), *given]


def key_for(query: AuditQuery, tenant: str) -> LookupKey:
    """The key to walk for ``query``: its most selective filter, else the tenant-wide listing."""
    values = query_values(query)
    for field in MOST_SELECTIVE_FIRST:
        value = values[field]
        if value:
            return LookupKey(tenant, field, value)
    return LookupKey(tenant, "all", "")


def query_values(query: AuditQuery) -> dict[LookupField, str | None]:
    return {
        "correlation": query.correlation_id,
        "tracker": query.tracker_id,
        "learner": query.learner_id,
        "actor": query.actor,
        "type": query.event_type,
    }


def bucket_of(field: LookupField, sequence: int) -> str:
    """Zero-padded, so that buckets sort by name in sequence order."""
    return f"{sequence // BUCKET_SPAN[field]:012d}"


def bucket_span(field: LookupField, bucket: str) -> tuple[int, int]:
    """[start, end) of the sequences in a bucket named by ``bucket_of``."""
    start = int(bucket) * BUCKET_SPAN[field]
    return start, start + BUCKET_SPAN[field]


# --- writing -------------------------------------------------------------------------------


def group_refs(entries: Iterable[AuditEntry]) -> dict[LookupKey, dict[str, list[Ref]]]:
    """Each entry's ref under each of its keys and the bucket of its time. Entries without a
    tenant are left out: every query is a tenant's, so none could ever select them."""
    grouped: dict[LookupKey, dict[str, list[Ref]]] = defaultdict(lambda: defaultdict(list))
    for entry in entries:
        if entry.tenant:
            ref = ref_of(entry)
            for key in keys_of(entry.tenant, ref):
                grouped[key][bucket_of(key.field, ref.sequence)].append(ref)
    return grouped


def bucket_after(
    before: BucketHead | None, fill: BucketFill, first: datetime, last: datetime
) -> BucketHead:
    """The bucket once a batch put refs of event times ``first``..``last`` on its pages, leaving
    ``fill``: the range the head records is whole hours (``TIME_GRAIN``), so that a batch moves
    it only when it adds an hour, not at every batch of a live log. A bucket whose head has no
    times (written before heads kept them) stays without: it is always read."""
    start, end = _hour_floor(first), _hour_floor(last) + TIME_GRAIN
    if before is None:
        return BucketHead(fill.pages, fill.fill, start, end)
    if before.first is None or before.last is None:
        return BucketHead(max(before.pages, fill.pages), fill.fill, None, None)
    return BucketHead(
        max(before.pages, fill.pages), fill.fill, min(before.first, start), max(before.last, end)
    )


def head_moved(before: BucketHead | None, after: BucketHead) -> bool:
    """Whether the stored head must learn of ``after``: a new bucket or page, or wider hours.
    The fill is not stored: a writer that does not know it reads the last page."""
    return before is None or (before.pages, before.first, before.last) != (
        after.pages,
        after.first,
        after.last,
    )


def _hour_floor(time: datetime) -> datetime:
    return normalise_time(time).replace(minute=0, second=0, microsecond=0)


def place(before: BucketFill | None, count: int) -> tuple[list[Placement], BucketFill]:
    """Where ``count`` new refs go: the rest of the last page, then new pages."""
    pages, fill = before if before is not None else BucketFill(0, PAGE_CAPACITY)
    placements: list[Placement] = []
    start = 0
    while start < count:
        if fill >= PAGE_CAPACITY:
            pages, fill = pages + 1, 0
        taken = min(PAGE_CAPACITY - fill, count - start)
        placements.append(Placement(pages - 1, start, start + taken))
        fill, start = fill + taken, start + taken
    return placements, BucketFill(pages, fill)


# --- reading -------------------------------------------------------------------------------


class RefPage(NamedTuple):
    refs: list[Ref]
    next_cursor: str | None


def buckets_to_read(
    field: LookupField, buckets: Mapping[str, BucketInfo], query: AuditQuery, below: int
) -> list[tuple[str, int]]:
    """The key's buckets that may hold what ``query`` selects among the sequences below
    ``below``, with their page counts, in the order served."""
    cursor = decode_cursor(query.cursor) if query.cursor else None
    chosen = [
        (name, info.pages)
        for name, info in buckets.items()
        if info.pages > 0
        and _in_window(info, query)
        and _may_hold(bucket_span(field, name), query.order, cursor, below)
    ]
    return sorted(chosen, reverse=query.order == "newest")


def select(refs: Iterable[Ref], query: AuditQuery, below: int) -> list[Ref]:
    """The refs of one bucket that ``query`` selects below ``below``, each once, in the order
    served."""
    cursor = decode_cursor(query.cursor) if query.cursor else None
    unique = {ref.entry_id: ref for ref in refs}
    chosen = [ref for ref in unique.values() if 0 <= ref.sequence < below]
    chosen = [ref for ref in chosen if _matches(ref, query, cursor)]
    return sorted(chosen, key=lambda ref: ref.sequence, reverse=query.order == "newest")


def paginate(refs: Sequence[Ref], limit: int) -> RefPage:
    """Cut refs selected in order (up to ``limit + 1``) into the page and the next cursor."""
    page = list(refs[:limit])
    more = len(refs) > limit and page
    return RefPage(page, encode_cursor(page[-1].sequence) if more else None)


def _in_window(info: BucketInfo, query: AuditQuery) -> bool:
    if info.first is None or info.last is None:
        return True
    if query.from_time and info.last < query.from_time:
        return False
    return not (query.to_time and info.first >= query.to_time)


def _may_hold(span: tuple[int, int], order: str, cursor: int | None, below: int) -> bool:
    start, end = span
    if start >= below:
        return False
    if cursor is None:
        return True
    return start < cursor if order == "newest" else end > cursor + 1


def _matches(ref: Ref, query: AuditQuery, cursor: int | None) -> bool:
    actual = ref.values()
    if any(value and actual[field] != value for field, value in query_values(query).items()):
        return False
    if (query.from_time and ref.time < query.from_time) or (
        query.to_time and ref.time >= query.to_time
    ):
        return False
    if cursor is None:
        return True
    return ref.sequence < cursor if query.order == "newest" else ref.sequence > cursor
