"""What the audit use cases need of storage, as protocols: the MongoDB adapter satisfies both
(mypy checks it where bootstrap wires it in) and the unit tests' in-memory fake does too."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from ilrflow.audit.domain.lookup import LookupKey, Ref
from ilrflow.audit.domain.records import AuditEntry, RecordCoordinates
from ilrflow.audit.domain.timeline import TimelineLine
from ilrflow.audit.domain.verify import ChainTail
from ilrflow.contracts.events import Envelope


class AuditLogWriter(Protocol):
    """The insert-only log, its chain tails, event-id claims, timelines and lookup documents."""

    async def recorded_tail(self, topic: str, partition: int) -> ChainTail | None: ...

    async def stored_head(self, topic: str, partition: int) -> ChainTail | None:
        """The newest stored entry of the partition, read from the log itself."""
        ...

    async def record_tail(self, topic: str, partition: int, tail: ChainTail) -> None: ...

    async def insert(self, entries: Sequence[AuditEntry]) -> int:
        """Insert in offset order; raise ``AlreadyStoredError`` if an entry is stored already."""
        ...

    async def claim_event_ids(self, entries: Sequence[AuditEntry]) -> dict[str, RecordCoordinates]:
        """Claim each entry's (topic, event id); return the claims others hold already."""
        ...

    async def add_timeline_lines(
        self, lines: Mapping[tuple[str, str], Iterable[TimelineLine]]
    ) -> None: ...

    async def add_lookups(self, entries: Sequence[AuditEntry]) -> None: ...


class AuditLogReader(Protocol):
    """The reads of the query path, and the audited-read outbox."""

    async def entries_by_id(self, tenant: str, entry_ids: Iterable[str]) -> list[AuditEntry]: ...

    async def get(self, tenant: str | None, entry_id: str) -> AuditEntry | None: ...

    async def lookup_buckets(self, key: LookupKey) -> dict[str, int]: ...

    async def lookup_refs(self, key: LookupKey, bucket: str, pages: int) -> list[Ref]: ...

    async def timeline(self, tenant: str, learner_id: str) -> list[TimelineLine]: ...

    async def all_recorded_tails(self) -> dict[tuple[str, int], ChainTail]: ...

    async def partition_entries(self, topic: str, partition: int) -> list[AuditEntry]: ...

    async def partitions(self) -> list[tuple[str, int]]: ...

    async def record_read(self, event: Envelope[Any]) -> None:
        """Store the read with its ``AuditAccessed`` event in an outbox."""
        ...
