"""Storing Kafka records in the audit log, one partition batch at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ilrflow.audit.adapters.repository import AuditRepository
from ilrflow.audit.domain.chain import GENESIS_HASH, chain
from ilrflow.audit.domain.duplicates import decide_delivery, with_delivery
from ilrflow.audit.domain.ingest import HeaderValue, entry_from_record
from ilrflow.audit.domain.records import AuditEntry


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
        head = await self.repository.chain_head(topic, partition)
        last_offset, prev_hash = head if head is not None else (-1, GENESIS_HASH)
        fresh = [
            entry_from_record(topic, partition, r.offset, r.key, r.headers, r.value, r.timestamp_ms)
            for r in records
            if r.offset > last_offset
        ]
        flagged = await self._flag_duplicates(topic, fresh)
        return await self.repository.insert(chain(flagged, prev_hash))

    async def _flag_duplicates(self, topic: str, entries: list[AuditEntry]) -> list[AuditEntry]:
        ids = sorted({e.event_id for e in entries if e.event_id})
        stored = await self.repository.coordinates_by_event_id(topic, ids)
        flagged = []
        for entry in entries:
            seen = stored.setdefault(entry.event_id, []) if entry.event_id else []
            decision = decide_delivery(entry, seen)
            if decision.should_store:
                flagged.append(with_delivery(entry, decision))
                seen.append(entry.coordinates)
        return flagged
