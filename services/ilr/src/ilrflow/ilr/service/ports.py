"""What the ILR use cases need of storage, as protocols: the MongoDB adapters satisfy them (mypy
checks it where bootstrap wires them in) and the unit tests' in-memory fakes do too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ilrflow.contracts.events import Envelope, OtjMinimumsLoaded
from ilrflow.ilr.adapters.repository import HistoryEntry, IlrDocument
from ilrflow.ilr.domain.settings import IlrSettings
from ilrflow.platform.idempotency import Delivered, RecordPosition


class IlrStore(Protocol):
    """One versioned record per learner with its outbox, the ids of the events applied to it
    and its history."""

    async def get(self, tenant: str, learner_id: str) -> IlrDocument | None: ...

    async def create_empty(self, tenant: str, learner_id: str, group: str | None) -> None:
        """Make sure the learner has a record (version 0, no ILR yet); no-op if it exists."""
        ...

    async def record_outcome(
        self,
        current: IlrDocument,
        *,
        event_id: str | None,
        new_learner: dict[str, Any] | None,
        history: HistoryEntry | None,
        events: Sequence[Envelope[Any]],
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Write one change's outcome (a new version when ``new_learner`` and ``history`` are
        given), its events and ``event_id`` as applied, if the record is still at
        ``current.version`` and the event was not applied; False otherwise, storing nothing."""
        ...

    async def record_outcomes(
        self,
        current: IlrDocument,
        *,
        applying: Sequence[Delivered[Any]],
        last: RecordPosition | None,
        new_learner: dict[str, Any] | None,
        histories: Sequence[HistoryEntry],
        events: Sequence[Envelope[Any]],
    ) -> bool:
        """Write a chain's outcomes (``len(histories)`` new versions ending at ``new_learner``),
        their events, every event of ``applying`` as applied and ``last`` as the partition's
        offset, if the record is still at ``current.version`` and none of ``applying`` is
        applied; False otherwise, storing nothing."""
        ...

    async def record_copies(self, record: IlrDocument, chain: Sequence[Delivered[Any]]) -> None:
        """For a chain whose events are all applied: record its last offset, if an event id
        told it (``ilrflow.platform.idempotency.chain_copy_offset``)."""
        ...

    async def is_applied(self, record: IlrDocument, event_id: str) -> bool:
        """Whether the event (at the position of the record being handled) is applied to
        ``record``; a copy so dropped has its own offset recorded
        (``ilrflow.platform.idempotency.copy_offset``)."""
        ...

    async def history(self, record: IlrDocument) -> list[dict[str, Any]]:
        """Every version's history entry, oldest first."""
        ...

    async def list_for_tenant(self, tenant: str) -> list[IlrDocument]:
        """The tenant's records that have an ILR (version 1 and up)."""
        ...


class IlrSettingsStore(Protocol):
    async def get(self, tenant: str) -> IlrSettings: ...

    async def save(
        self, tenant: str, settings: IlrSettings, events: Sequence[Envelope[Any]]
    ) -> None: ...


class ReferenceStore(Protocol):
    """The platform-wide reference data: the 2025/26 minimum OTJ table and its outbox."""

    async def otj_minimums(self) -> OtjMinimumsLoaded | None: ...

    async def save_otj_minimums(
        self, table: OtjMinimumsLoaded, events: Sequence[Envelope[Any]]
    ) -> None:
        """Replace the table and queue ``events`` in the same write."""
        ...
