"""In-memory stand-ins for the ILR service's MongoDB adapters, with the same semantics: one
record per learner, kept in the adapter's document form; a write matches only the version the
use case loaded and an event id not applied yet; a new version moves the previous version's
history entry out of the record; every write carries its outbox."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ilrflow.contracts.events import Envelope, OtjMinimumsLoaded
from ilrflow.ilr.adapters.repository import HistoryEntry, IlrDocument
from ilrflow.ilr.domain.settings import IlrSettings
from ilrflow.ilr.service.use_cases import IlrService
from ilrflow.platform.idempotency import (
    OFFSETS_FIELD,
    RECENT_FIELD,
    Delivered,
    RecordPosition,
    chain_copy_offset,
    not_applied,
    was_applied,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
DEFAULT_UKPRN = 10000001


class FakeIlrStore:
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], dict[str, Any]] = {}
        self._versions: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.outbox: list[Envelope[Any]] = []
        self.writes = 0  # of a record
        self._racing = False

    async def get(self, tenant: str, learner_id: str) -> IlrDocument | None:
        document = self._records.get((tenant, learner_id))
        return None if document is None else IlrDocument.from_stored(copy.deepcopy(document))

    async def create_empty(self, tenant: str, learner_id: str, group: str | None) -> None:
        self._records.setdefault(
            (tenant, learner_id),
            {
                "tenant": tenant,
                "learner_id": learner_id,
                "version": 0,
                "qa_verified": False,
                "learner": None,
                "group": group,
            },
        )

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
        document = self._records[(current.tenant, current.learner_id)]
        if self._racing:
            document["version"] += 1
            self._racing = False
        if document["version"] != current.version:
            return False
        if event_id is not None and was_applied(document, event_id):
            return False
        self.writes += 1
        if new_learner is not None and history is not None:
            self._copy_out_latest_history(document)
            document["learner"] = copy.deepcopy(new_learner)
            document["latest_history"] = history.to_document()
            document["version"] += 1
        document.update(copy.deepcopy(extra or {}))
        if event_id is not None:  # the marks as the update writes them, but kept whole
            document.setdefault(RECENT_FIELD, []).append(event_id)
        self.outbox.extend(events)
        return True

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
        document = self._records[(current.tenant, current.learner_id)]
        if self._racing:
            document["version"] += 1
            self._racing = False
        if document["version"] != current.version:
            return False
        if len(not_applied(document, applying)) != len(applying):
            return False
        self.writes += 1
        if new_learner is not None and histories:
            for entry in histories:
                self._copy_out_latest_history(document)
                document["latest_history"] = entry.to_document()
            document["learner"] = copy.deepcopy(new_learner)
            document["version"] += len(histories)
        document.setdefault(RECENT_FIELD, []).extend(d.event.id for d in applying)
        if last is not None:
            document.setdefault(OFFSETS_FIELD, {})[last.key] = last.offset
        self.outbox.extend(events)
        return True

    async def record_copies(self, record: IlrDocument, chain: Sequence[Delivered[Any]]) -> None:
        document = self._records[(record.tenant, record.learner_id)]
        last = chain[-1].position
        if last is not None and chain_copy_offset(document, chain) is not None:
            document.setdefault(OFFSETS_FIELD, {})[last.key] = last.offset

    async def is_applied(self, record: IlrDocument, event_id: str) -> bool:
        return record.has_applied(event_id)  # no positions here: nothing more to record

    async def history(self, record: IlrDocument) -> list[dict[str, Any]]:
        sources = record.history_sources
        key = (record.tenant, record.learner_id)
        stored = [
            self._versions[(*key, v)]
            for v in sources.stored_versions_needed()
            if (*key, v) in self._versions
        ]
        return [dict(entry) for entry in sources.history(stored)]

    async def list_for_tenant(self, tenant: str) -> list[IlrDocument]:
        return [
            IlrDocument.from_stored(copy.deepcopy(d))
            for (t, _), d in sorted(self._records.items())
            if t == tenant and d["version"] > 0
        ]

    def _copy_out_latest_history(self, document: dict[str, Any]) -> None:
        entry = document.get("latest_history")
        if entry is not None:
            key = (document["tenant"], document["learner_id"], int(entry["version"]))
            self._versions[key] = copy.deepcopy(entry)

    # --- for the tests ------------------------------------------------------------------------

    def race_next_write(self) -> None:
        """Another writer stores a version between the use case's read and its write."""
        self._racing = True


class FakeIlrSettingsStore:
    def __init__(self) -> None:
        self._settings: dict[str, dict[str, Any]] = {}
        self.outbox: list[Envelope[Any]] = []
        self.reads = 0

    async def get(self, tenant: str) -> IlrSettings:
        self.reads += 1
        stored = self._settings.get(tenant)
        return IlrSettings() if stored is None else IlrSettings.model_validate(stored)

    async def save(
        self, tenant: str, settings: IlrSettings, events: Sequence[Envelope[Any]]
    ) -> None:
        self._settings[tenant] = settings.model_dump(mode="json")
        self.outbox.extend(events)


class FakeReferenceStore:
    def __init__(self) -> None:
        self._otj_minimums: dict[str, Any] | None = None
        self.outbox: list[Envelope[Any]] = []
        self.reads = 0

    async def otj_minimums(self) -> OtjMinimumsLoaded | None:
        self.reads += 1
        stored = self._otj_minimums
        return None if stored is None else OtjMinimumsLoaded.model_validate(stored)

    async def save_otj_minimums(
        self, table: OtjMinimumsLoaded, events: Sequence[Envelope[Any]]
    ) -> None:
        self._otj_minimums = table.model_dump(mode="json")
        self.outbox.extend(events)


def ilr_service(
    records: FakeIlrStore,
    settings: FakeIlrSettingsStore,
    reference: FakeReferenceStore | None = None,
) -> IlrService:
    """The service over the fakes (typed, so mypy checks the fakes fit the protocols)."""
    return IlrService(
        records,
        settings,
        reference or FakeReferenceStore(),
        lambda: None,
        default_ukprn=DEFAULT_UKPRN,
        clock=lambda: T0,
    )
