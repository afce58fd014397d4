"""An in-memory stand-in for the audit service's MongoDB adapter, with the same semantics: the
log is insert-only and keyed by record coordinates (a stored entry refuses a second insert), a
(topic, event id) is claimed once, timelines are stored in pages and leave a replayed line out,
lookups hold every ref under each of its keys and sequence buckets, a tenant's sequence is served
only below the lowest pending mark, staff keep their newest name, and each audited read lands in
an outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from ilrflow.audit.adapters.repository import AlreadyStoredError
from ilrflow.audit.domain.lookup import BucketInfo, LookupKey, Ref, group_refs
from ilrflow.audit.domain.records import AuditEntry, RecordCoordinates
from ilrflow.audit.domain.sequence import visible_below
from ilrflow.audit.domain.staff import StaffKey, StaffName, is_newer
from ilrflow.audit.domain.timeline import PAGE_LINES, TimelineHead, TimelineLine, appended
from ilrflow.audit.domain.verify import ChainLink, ChainTail, link_of
from ilrflow.audit.service.ingest import AuditIngest
from ilrflow.audit.service.queries import AuditQueries
from ilrflow.contracts.events import Envelope


class FakeAuditLog:
    def __init__(self) -> None:
        self.entries: dict[str, AuditEntry] = {}
        self._tails: dict[tuple[str, int], ChainTail] = {}
        self._claims: dict[tuple[str, str], RecordCoordinates] = {}
        self._timelines: dict[tuple[str, str], TimelineHead] = {}
        self._timeline_pages: dict[tuple[str, str, int], list[TimelineLine]] = {}
        self.timeline_page_lines = PAGE_LINES
        self.timeline_pages_read = 0
        self._lookups: dict[tuple[str, str], list[Ref]] = {}
        self.reads: list[Envelope[Any]] = []
        self.checkpoint_events: list[Envelope[Any]] = []
        self._sequences: dict[str, dict[str, Any]] = {}  # tenant -> {"next", "pending"}
        self._staff: dict[StaffKey, StaffName] = {}

    # --- writing -------------------------------------------------------------------------------

    async def recorded_tail(self, topic: str, partition: int) -> ChainTail | None:
        return self._tails.get((topic, partition))

    async def stored_head(self, topic: str, partition: int) -> ChainTail | None:
        stored = await self.partition_entries(topic, partition)
        return ChainTail(stored[-1].offset, stored[-1].hash or "") if stored else None

    async def record_tail(self, topic: str, partition: int, tail: ChainTail) -> None:
        self._tails[(topic, partition)] = tail

    async def insert(self, entries: Sequence[AuditEntry]) -> int:
        for count, entry in enumerate(entries):  # ordered, as the adapter's insert_many
            if entry.id in self.entries:
                raise AlreadyStoredError(f"{entry.id} is stored ({count} inserted before it)")
            self.entries[entry.id] = entry
        return len(entries)

    async def claim_event_ids(self, entries: Sequence[AuditEntry]) -> dict[str, RecordCoordinates]:
        held: dict[str, RecordCoordinates] = {}
        for entry in entries:
            if not entry.event_id:
                continue
            claim = (entry.topic, entry.event_id)
            if claim in self._claims:
                held[entry.event_id] = self._claims[claim]
            else:
                self._claims[claim] = entry.coordinates
        return held

    async def add_timeline_lines(
        self, lines: Mapping[tuple[str, str], Iterable[TimelineLine]]
    ) -> None:
        for learner, learner_lines in lines.items():
            head = self._timelines.get(learner, TimelineHead())
            change = appended(head, learner_lines, self.timeline_page_lines)
            for n, page in enumerate(change.sealed_pages):
                self._timeline_pages[(*learner, head.sealed + n)] = page
            sealed = head.sealed + len(change.sealed_pages)
            self._timelines[learner] = TimelineHead(
                sealed, tuple(change.open_lines), change.through
            )

    async def add_lookups(self, entries: Sequence[AuditEntry]) -> None:
        for key, buckets in group_refs(entries).items():
            for bucket, refs in buckets.items():
                self._lookups.setdefault((key.id, bucket), []).extend(refs)

    async def stored_prefix(self, entry_ids: Sequence[str]) -> list[AuditEntry]:
        stored: list[AuditEntry] = []
        for entry_id in entry_ids:
            if entry_id not in self.entries:
                break
            stored.append(self.entries[entry_id])
        return stored

    async def reserve_sequences(self, writer: str, counts: Mapping[str, int]) -> dict[str, int]:
        starts: dict[str, int] = {}
        for tenant, count in counts.items():
            counter = self._sequences.setdefault(tenant, {"next": 0, "pending": {}})
            pending = counter["pending"]
            pending[writer] = min(pending.get(writer, counter["next"]), counter["next"])
            starts[tenant] = counter["next"]
            counter["next"] += count
        return starts

    async def release_sequences(self, writer: str, tenants: Iterable[str]) -> None:
        for tenant in tenants:
            self._sequences.get(tenant, {}).get("pending", {}).pop(writer, None)

    async def record_staff_names(self, names: Mapping[StaffKey, StaffName]) -> None:
        for key, candidate in names.items():
            if is_newer(candidate, self._staff.get(key)):
                self._staff[key] = candidate

    # --- reading -------------------------------------------------------------------------------

    async def visible_sequence(self, tenant: str) -> int:
        return visible_below(self._sequences.get(tenant))

    async def staff_names(self, tenant: str, staff_ids: Iterable[str]) -> dict[str, str]:
        return {i: self._staff[(tenant, i)].name for i in staff_ids if (tenant, i) in self._staff}

    async def entries_by_id(self, tenant: str, entry_ids: Iterable[str]) -> list[AuditEntry]:
        found = [await self.get(tenant, entry_id) for entry_id in entry_ids]
        return [entry for entry in found if entry is not None]

    async def get(self, tenant: str | None, entry_id: str) -> AuditEntry | None:
        entry = self.entries.get(entry_id)
        if entry is None or (tenant is not None and entry.tenant != tenant):
            return None
        return entry

    async def lookup_buckets(self, key: LookupKey) -> dict[str, BucketInfo]:
        # One page per bucket: pages are the adapter's way of bounding a document's size.
        return {
            bucket: BucketInfo(1, min(r.time for r in refs), max(r.time for r in refs))
            for (key_id, bucket), refs in self._lookups.items()
            if key_id == key.id
        }

    async def lookup_refs(self, key: LookupKey, bucket: str, pages: int) -> list[Ref]:
        return list(self._lookups.get((key.id, bucket), []))

    async def timeline_head(self, tenant: str, learner_id: str) -> TimelineHead:
        return self._timelines.get((tenant, learner_id), TimelineHead())

    async def timeline_page(self, tenant: str, learner_id: str, page: int) -> list[TimelineLine]:
        self.timeline_pages_read += 1
        return list(self._timeline_pages.get((tenant, learner_id, page), []))

    async def all_recorded_tails(self) -> dict[tuple[str, int], ChainTail]:
        return dict(self._tails)

    async def partition_entries(self, topic: str, partition: int) -> list[AuditEntry]:
        found = [e for e in self.entries.values() if (e.topic, e.partition) == (topic, partition)]
        return sorted(found, key=lambda e: e.offset)

    async def chain_links(self) -> AsyncIterator[ChainLink]:
        for entry in list(self.entries.values()):
            yield link_of(entry)

    async def record_read(self, event: Envelope[Any]) -> None:
        self.reads.append(event)

    async def record_checkpoints(self, events: Sequence[Envelope[Any]]) -> None:
        self.checkpoint_events.extend(events)

    # --- for the tests ------------------------------------------------------------------------

    def lose_recorded_tails(self) -> None:
        """As after a crash between storing a batch and recording its tail."""
        self._tails.clear()


def audit_ingest(log: FakeAuditLog) -> AuditIngest:
    """Ingest over the fake (typed, so mypy checks the fake fits the protocol)."""
    return AuditIngest(log)


def audit_queries(log: FakeAuditLog) -> AuditQueries:
    return AuditQueries(log, reads_recorded=lambda: None)
