"""Lookup documents: how ``/v1/audit/events`` and the exports find entries without reading the log.

FerretDB 1.24 on SQLite pushes a query down only when its filter is one ``_id`` equality, so the
log is searched through documents read by ``_id`` alone, written at ingest:

- one *lookup key* per (tenant, field, value): ``all`` (the tenant-wide listing), ``correlation``,
  ``tracker``, ``learner``, ``actor`` and ``type``;
- per key, *buckets* of time (an hour for the busy fields, a day for the sparse ones), so that
  buckets are disjoint in time: reading them in order and sorting inside each one gives the keyset
  order on (time, id) however late an entry arrived (a redriven dead letter keeps its old time);
- per bucket, *pages* of at most ``PAGE_CAPACITY`` refs, appended in ingest order; a ref carries
  the entry's time, id and every filterable field, so the other filters, the time window and the
  cursor are applied to refs, and only the entries of the page served are fetched;
- per key, a *head* saying which buckets exist and how full they are.

A crash between writing a batch's refs and recording the head replays the batch onto the same
pages: a ref may then be stored twice, and ``select`` keeps one. Everything here is pure; the
repository does the reads and writes, the service walks the buckets.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple

from ilrflow.audit.domain.query import AuditQuery, CursorKey, decode_cursor, encode_cursor
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
HOURLY_FIELDS: frozenset[LookupField] = frozenset({"all", "actor", "type"})
PAGE_CAPACITY = 2000
_HOUR, _DAY = "%Y%m%d%H", "%Y%m%d"


class Ref(NamedTuple):
    """What a lookup page holds about one entry: its sort key and every filterable field."""

    time: datetime
    entry_id: str
    event_type: str | None = None
    actor: str | None = None
    learner_id: str | None = None
    tracker_id: str | None = None
    correlation_id: str | None = None

    @property
    def key(self) -> CursorKey:
        return CursorKey(self.time, self.entry_id)

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


class Placement(NamedTuple):
    page: int
    start: int
    end: int


def ref_of(entry: AuditEntry) -> Ref:
    return Ref(
        time=normalise_time(entry.time),  # what the database keeps: milliseconds
        entry_id=entry.id,
        event_type=entry.event_type,
        actor=entry.actor,
        learner_id=entry.learner_id,
        tracker_id=entry.tracker_id,
        correlation_id=entry.correlation_id,
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


def bucket_of(field: LookupField, time: datetime) -> str:
    return time.astimezone(UTC).strftime(_HOUR if field in HOURLY_FIELDS else _DAY)


def bucket_span(bucket: str) -> tuple[datetime, datetime]:
    """[start, end) of a bucket named by ``bucket_of``."""
    hourly = len(bucket) == len("YYYYMMDDHH")
    start = datetime.strptime(bucket, _HOUR if hourly else _DAY).replace(tzinfo=UTC)
    return start, start + (timedelta(hours=1) if hourly else timedelta(days=1))


# --- writing -------------------------------------------------------------------------------


def group_refs(entries: Iterable[AuditEntry]) -> dict[LookupKey, dict[str, list[Ref]]]:
    """Each entry's ref under each of its keys and the bucket of its time. Entries without a
    tenant are left out: every query is a tenant's, so none could ever select them."""
    grouped: dict[LookupKey, dict[str, list[Ref]]] = defaultdict(lambda: defaultdict(list))
    for entry in entries:
        if entry.tenant:
            ref = ref_of(entry)
            for key in keys_of(entry.tenant, ref):
                grouped[key][bucket_of(key.field, ref.time)].append(ref)
    return grouped


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


def buckets_to_read(pages: Mapping[str, int], query: AuditQuery) -> list[tuple[str, int]]:
    """The key's buckets that may hold what ``query`` selects, in the order it is served."""
    cursor = decode_cursor(query.cursor) if query.cursor else None
    chosen = [(b, n) for b, n in pages.items() if n > 0 and _may_hold(b, query, cursor)]
    return sorted(chosen, reverse=query.order == "newest")


def select(refs: Iterable[Ref], query: AuditQuery) -> list[Ref]:
    """The refs of one bucket that ``query`` selects, each once, in the order served."""
    cursor = decode_cursor(query.cursor) if query.cursor else None
    unique = {ref.entry_id: ref for ref in refs}
    chosen = [ref for ref in unique.values() if _matches(ref, query, cursor)]
    return sorted(chosen, key=lambda ref: ref.key, reverse=query.order == "newest")


def paginate(refs: Sequence[Ref], limit: int) -> RefPage:
    """Cut refs selected in order (up to ``limit + 1``) into the page and the next cursor."""
    page = list(refs[:limit])
    more = len(refs) > limit and page
    return RefPage(page, encode_cursor(page[-1].time, page[-1].entry_id) if more else None)


def _may_hold(bucket: str, query: AuditQuery, cursor: CursorKey | None) -> bool:
    start, end = bucket_span(bucket)
    if (query.from_time and end <= query.from_time) or (query.to_time and start >= query.to_time):
        return False
    if cursor is None:
        return True
    return start <= cursor.time if query.order == "newest" else end > cursor.time


def _matches(ref: Ref, query: AuditQuery, cursor: CursorKey | None) -> bool:
    actual = ref.values()
    if any(value and actual[field] != value for field, value in query_values(query).items()):
        return False
    if (query.from_time and ref.time < query.from_time) or (
        query.to_time and ref.time >= query.to_time
    ):
        return False
    if cursor is None:
        return True
    return ref.key < cursor if query.order == "newest" else ref.key > cursor
