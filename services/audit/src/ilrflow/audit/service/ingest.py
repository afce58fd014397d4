"""Storing Kafka records in the audit log, one partition batch at a time.

Per batch: parse the records past the chain head, flag repeated event ids, link the chain, number
the entries in their tenants' ingest sequences (``domain.sequence``), add the learners' timeline
lines and the staff names, insert the entries, add the lookup documents searches walk (after the entries, so that no
ref points at an entry not stored yet), release the sequence marks, then record the new tail.

Each step is safe to repeat after a crash: a repeated timeline line or lookup ref is dropped when
read, the entries' ids are their coordinates, and a chain head that lags behind the log (a crash
after the insert, before the tail was recorded) is noticed by the insert: the entries already
stored are read back by ``_id``, their lookups written again with the sequences they were stored
with, and the rest of the batch chained after them. A crash leaves the writer's sequence mark,
which holds searches back until the replay releases it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ilrflow.audit.adapters.repository import AlreadyStoredError
from ilrflow.audit.domain.chain import GENESIS_HASH, chain
from ilrflow.audit.domain.duplicates import decide_delivery, with_delivery
from ilrflow.audit.domain.ingest import HeaderValue, entry_from_record
from ilrflow.audit.domain.records import AuditEntry, RecordCoordinates
from ilrflow.audit.domain.sequence import counts_by_tenant, numbered, writer_of
from ilrflow.audit.domain.staff import staff_names
from ilrflow.audit.domain.timeline import TimelineLine, belongs_on_timeline, timeline_line
from ilrflow.audit.domain.verify import ChainTail
from ilrflow.audit.service.ports import AuditLogWriter


@dataclass(frozen=True)
class RawRecord:
    offset: int
    key: bytes | None
    headers: Mapping[str, HeaderValue]
    value: bytes | None
    timestamp_ms: int | None


class AuditIngest:
    def __init__(self, repository: AuditLogWriter) -> None:
        self.repository = repository

    async def store_batch(self, topic: str, partition: int, records: Sequence[RawRecord]) -> int:
        """Store the records of one partition (in offset order) that are not stored yet, flagged
        where they repeat an event id, chained after the partition's head. Returns how many."""
        head = await self.repository.recorded_tail(topic, partition)
        last_offset, prev_hash = head if head is not None else (-1, GENESIS_HASH)
        fresh = [
            entry_from_record(topic, partition, r.offset, r.key, r.headers, r.value, r.timestamp_ms)
            for r in records
            if r.offset > last_offset
        ]
        if not fresh:
            return 0
        try:
            inserted, tail = await self._store_after(prev_hash, fresh)
        except AlreadyStoredError:
            inserted, tail = await self._finish_stored_then_store_rest(fresh)
        writer = writer_of(topic, partition)
        await self.repository.release_sequences(writer, counts_by_tenant(fresh))
        await self.repository.record_tail(topic, partition, tail)
        return inserted

    async def _store_after(
        self, prev_hash: str, fresh: Sequence[AuditEntry]
    ) -> tuple[int, ChainTail]:
        """Chain, number and store entries none of which is stored; return how many and the
        new tail."""
        chained = chain(await self._flag_duplicates(list(fresh)), prev_hash)
        writer = writer_of(chained[0].topic, chained[0].partition)
        starts = await self.repository.reserve_sequences(writer, counts_by_tenant(chained))
        entries = numbered(chained, starts)
        await self.repository.add_timeline_lines(_timeline_lines(entries))
        await self.repository.record_staff_names(staff_names(entries))
        inserted = await self.repository.insert(entries)
        await self.repository.add_lookups(entries)
        return inserted, _tail_of(entries[-1])

    async def _finish_stored_then_store_rest(
        self, fresh: Sequence[AuditEntry]
    ) -> tuple[int, ChainTail]:
        """A run that crashed after its insert stored the first of these entries: write their
        lookups (again, with the sequences they were stored with), then store the rest."""
        stored = await self.repository.stored_prefix([entry.id for entry in fresh])
        if not stored:
            raise AlreadyStoredError(f"{fresh[0].id}: stored, yet not found by its id")
        await self.repository.add_lookups([e for e in stored if e.sequence is not None])
        rest = [entry for entry in fresh if entry.offset > stored[-1].offset]
        if not rest:
            return 0, _tail_of(stored[-1])
        return await self._store_after(stored[-1].hash or "", rest)

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


def _tail_of(entry: AuditEntry) -> ChainTail:
    return ChainTail(entry.offset, entry.hash or "")


def _timeline_lines(entries: Sequence[AuditEntry]) -> dict[tuple[str, str], list[TimelineLine]]:
    lines: dict[tuple[str, str], list[TimelineLine]] = defaultdict(list)
    for entry in entries:
        if entry.tenant and entry.learner_id and belongs_on_timeline(entry):
            lines[(entry.tenant, entry.learner_id)].append(timeline_line(entry))
    return lines
