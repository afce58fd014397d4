"""Storing Kafka records in the audit log, one partition batch at a time.

Per batch: parse the records past the chain head, flag repeated event ids, add the learners'
timeline lines, the staff names and the lookup documents searches walk, insert the chained
entries, then record the new tail. Each step is safe to repeat after a crash: a repeated timeline line or lookup ref is
dropped when read, the entries' ids are their coordinates, and a
chain head that lags behind the log (a crash after the insert, before the tail was recorded) is
noticed by the insert and replaced by the head read from the log itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ilrflow.audit.adapters.repository import AlreadyStoredError, AuditRepository
from ilrflow.audit.domain.chain import GENESIS_HASH, chain
from ilrflow.audit.domain.duplicates import decide_delivery, with_delivery
from ilrflow.audit.domain.ingest import HeaderValue, entry_from_record
from ilrflow.audit.domain.records import AuditEntry, RecordCoordinates
from ilrflow.audit.domain.staff import staff_names
from ilrflow.audit.domain.timeline import TimelineLine, belongs_on_timeline, timeline_line
from ilrflow.audit.domain.verify import ChainTail


@dataclass(frozen=True)
class RawRecord:
    offset: int
    key: bytes | None
    headers: Mapping[str, HeaderValue]
    value: bytes | None
    timestamp_ms: int | None


class AuditIngest:
    def __init__(self, repository: AuditRepository) -> None:
        self.repository = repository

    async def store_batch(self, topic: str, partition: int, records: Sequence[RawRecord]) -> int:
        """Store the records of one partition (in offset order) that are not stored yet, flagged
        where they repeat an event id, chained after the partition's head. Returns how many."""
        try:
            head = await self.repository.recorded_tail(topic, partition)
            return await self._store_after(head, topic, partition, records)
        except AlreadyStoredError:
            head = await self.repository.stored_head(topic, partition)
            return await self._store_after(head, topic, partition, records)

    async def _store_after(
        self,
        head: ChainTail | None,
        topic: str,
        partition: int,
        records: Sequence[RawRecord],
    ) -> int:
        last_offset, prev_hash = head if head is not None else (-1, GENESIS_HASH)
        fresh = [
            entry_from_record(topic, partition, r.offset, r.key, r.headers, r.value, r.timestamp_ms)
            for r in records
            if r.offset > last_offset
        ]
        if not fresh:
            return 0
        chained = chain(await self._flag_duplicates(fresh), prev_hash)
        await self.repository.add_timeline_lines(_timeline_lines(chained))
        await self.repository.record_staff_names(staff_names(chained))
        await self.repository.add_lookups(chained)
        inserted = await self.repository.insert(chained)
        newest = chained[-1]
        await self.repository.record_tail(
            topic, partition, ChainTail(newest.offset, newest.hash or "")
        )
        return inserted

    async def _flag_duplicates(self, entries: list[AuditEntry]) -> list[AuditEntry]:
        held = await self.repository.claim_event_ids(entries)
        ours = {e.coordinates for e in entries}
        seen: dict[str, list[RecordCoordinates]] = defaultdict(list)
        for event_id, coordinates in held.items():
            # A claim of these very coordinates is ours from a run that crashed before storing.
            if coordinates not in ours:
                seen[event_id].append(coordinates)
        flagged = []
        for entry in entries:
            decision = decide_delivery(entry, seen[entry.event_id] if entry.event_id else [])
            if decision.should_store:
                flagged.append(with_delivery(entry, decision))
                if entry.event_id:
                    seen[entry.event_id].append(entry.coordinates)
        return flagged


def _timeline_lines(entries: Sequence[AuditEntry]) -> dict[tuple[str, str], list[TimelineLine]]:
    lines: dict[tuple[str, str], list[TimelineLine]] = defaultdict(list)
    for entry in entries:
        if entry.tenant and entry.learner_id and belongs_on_timeline(entry):
            lines[(entry.tenant, entry.learner_id)].append(timeline_line(entry))
    return lines
