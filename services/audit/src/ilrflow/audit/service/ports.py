"""What the audit use cases need of storage, as protocols: the MongoDB adapter satisfies both
(mypy checks it where bootstrap wires it in) and the unit tests' in-memory fake does too."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Protocol

from ilrflow.audit.domain.checkpoint import Checkpoint
from ilrflow.audit.domain.lookup import BucketInfo, LookupKey, Ref
from ilrflow.audit.domain.records import AuditEntry, RecordCoordinates
from ilrflow.audit.domain.staff import StaffKey, StaffName
from ilrflow.audit.domain.timeline import TimelineHead, TimelineLine
from ilrflow.audit.domain.verify import ChainLink, ChainTail
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

    async def stored_prefix(self, entry_ids: Sequence[str]) -> list[AuditEntry]:
        """The entries of ``entry_ids`` (one partition, offset order) stored, up to the first
        that is not."""
        ...

    async def reserve_sequences(self, writer: str, counts: Mapping[str, int]) -> dict[str, int]:
        """Reserve ``counts[tenant]`` numbers of each tenant's ingest sequence for ``writer``,
        its pending mark set first; return where each run starts."""
        ...

    async def release_sequences(self, writer: str, tenants: Iterable[str]) -> None: ...

    async def record_staff_names(self, names: Mapping[StaffKey, StaffName]) -> None:
        """Keep each person's newest name (an older one changes nothing)."""
        ...


class AuditLogReader(Protocol):
    """The reads of the query path, and the audited-read outbox."""

    async def entries_by_id(self, tenant: str, entry_ids: Iterable[str]) -> list[AuditEntry]: ...

    async def get(self, tenant: str | None, entry_id: str) -> AuditEntry | None: ...

    async def lookup_buckets(self, key: LookupKey) -> dict[str, BucketInfo]: ...

    async def visible_sequence(self, tenant: str) -> int:
        """Searches serve the tenant's sequences below this."""
        ...

    async def staff_names(self, tenant: str, staff_ids: Iterable[str]) -> dict[str, str]: ...

    async def lookup_refs(self, key: LookupKey, bucket: str, pages: int) -> list[Ref]: ...

    async def timeline_head(self, tenant: str, learner_id: str) -> TimelineHead:
        """The learner's open page of timeline lines and how many pages were sealed before it."""
        ...

    async def timeline_page(self, tenant: str, learner_id: str, page: int) -> list[TimelineLine]:
        """A sealed page of the learner's timeline."""
        ...

    async def all_recorded_tails(self) -> dict[tuple[str, int], ChainTail]: ...

    def chain_links(self) -> AsyncIterator[ChainLink]:
        """Every entry's chain link, in one pass over the log."""
        ...

    async def record_read(self, event: Envelope[Any]) -> None:
        """Store the read with its ``AuditAccessed`` event in an outbox."""
        ...


class CheckpointLog(Protocol):
    """Signed checkpoints kept outside the audit database (a file), oldest first."""

    def append(self, checkpoints: Sequence[Checkpoint]) -> None: ...

    def read_all(self) -> list[Checkpoint]: ...


class CheckpointOutbox(Protocol):
    """The heads a checkpoint signs, and its event on the way to the ``audit-checkpoints``
    topic."""

    async def all_recorded_tails(self) -> dict[tuple[str, int], ChainTail]: ...

    async def get(self, tenant: str | None, entry_id: str) -> AuditEntry | None: ...

    async def record_checkpoints(self, events: Sequence[Envelope[Any]]) -> None: ...
