"""In-memory stand-ins for the learner service's MongoDB adapters, with the same semantics:
learners are versioned and remember the events applied to them, a save matches only the version
loaded (and an event not applied yet), staff ids are unique, every write carries its outbox; a
learner's documents are saved only at the revision loaded, PDFs kept by their hash."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ilrflow.contracts.events import Envelope, LearnerSnapshot, StaffUpdated
from ilrflow.ilr_engine.status import ProgrammeStatus
from ilrflow.learner.adapters.repository import StaffAlreadyExistsError
from ilrflow.learner.domain.documents import DocumentVersion, LearnerDocuments
from ilrflow.learner.domain.listing import LearnerFilter, LearnerView
from ilrflow.learner.service.documents import DocumentService
from ilrflow.learner.service.use_cases import LearnerService
from ilrflow.platform.idempotency import (
    OFFSETS_FIELD,
    RECENT_FIELD,
    Delivered,
    RecordPosition,
    chain_copy_offset,
    not_applied,
)


@dataclass
class _StoredLearner:
    record: dict[str, Any]
    version: int
    applied_events: list[str] = field(default_factory=list)
    applied_offsets: dict[str, int] = field(default_factory=dict)
    programme: ProgrammeStatus | None = None
    ilr_version: int | None = None


class FakeLearnerStore:
    def __init__(self) -> None:
        self._learners: dict[tuple[str, str], _StoredLearner] = {}
        self._staff: dict[tuple[str, str], dict[str, Any]] = {}
        self.outbox: list[Envelope[Any]] = []
        self.reads = 0  # of a learner
        self.writes = 0  # of a learner

    async def add_learner(
        self, tenant: str, learner: LearnerSnapshot, events: Sequence[Envelope[Any]]
    ) -> None:
        key = (tenant, learner.id)
        if key in self._learners:
            raise KeyError(f"learner {learner.id} exists")  # the database's unique _id
        self._learners[key] = _StoredLearner(learner.model_dump(mode="json"), 1)
        self.outbox.extend(events)

    async def get_learner(self, tenant: str, learner_id: str) -> tuple[LearnerSnapshot, int] | None:
        stored = self._learners.get((tenant, learner_id))
        if stored is None:
            return None
        return LearnerSnapshot.model_validate(stored.record), stored.version

    async def save_learner(
        self,
        tenant: str,
        learner: LearnerSnapshot,
        expected_version: int,
        events: Sequence[Envelope[Any]],
    ) -> bool:
        stored = self._learners.get((tenant, learner.id))
        if stored is None or stored.version != expected_version:
            return False
        stored.record = learner.model_dump(mode="json")
        stored.version += 1
        self.outbox.extend(events)
        return True

    async def get_learner_marked(
        self, tenant: str, learner_id: str
    ) -> tuple[LearnerSnapshot, int, dict[str, Any]] | None:
        self.reads += 1
        stored = self._learners.get((tenant, learner_id))
        if stored is None:
            return None
        return LearnerSnapshot.model_validate(stored.record), stored.version, _marks(stored)

    async def save_learner_chain(
        self,
        tenant: str,
        learner_id: str,
        learner: LearnerSnapshot | None,
        expected_version: int,
        events: Sequence[Envelope[Any]],
        *,
        applying: Sequence[Delivered[Any]],
        last: RecordPosition | None,
    ) -> bool:
        stored = self._learners.get((tenant, learner_id))
        if stored is None or stored.version != expected_version:
            return False
        if len(not_applied(_marks(stored), applying)) != len(applying):
            return False
        self.writes += 1
        if learner is not None:
            stored.record = learner.model_dump(mode="json")
            stored.version += len(events)
        stored.applied_events.extend(d.event.id for d in applying)
        if last is not None:
            stored.applied_offsets[last.key] = last.offset
        self.outbox.extend(events)
        return True

    async def record_copies(
        self, tenant: str, learner_id: str, marks: dict[str, Any], chain: Sequence[Delivered[Any]]
    ) -> None:
        stored = self._learners[(tenant, learner_id)]
        last = chain[-1].position
        if last is not None and chain_copy_offset(marks, chain) is not None:
            stored.applied_offsets[last.key] = last.offset

    def has_applied(self, tenant: str, learner_id: str, event_id: str) -> bool:
        stored = self._learners.get((tenant, learner_id))
        return stored is not None and event_id in stored.applied_events

    async def get_learner_view(self, tenant: str, learner_id: str) -> LearnerView | None:
        stored = self._learners.get((tenant, learner_id))
        return None if stored is None else _view(stored)

    async def list_learners(
        self, tenant: str, where: LearnerFilter, after: str | None, limit: int
    ) -> list[LearnerView]:
        in_order = sorted((i, s) for (t, i), s in self._learners.items() if t == tenant)
        found = [_view(s) for i, s in in_order if after is None or i > after]
        return [learner for learner in found if where.admits(learner)][:limit]

    async def save_programme_status(
        self, tenant: str, learner_id: str, status: ProgrammeStatus | None, ilr_version: int
    ) -> bool:
        stored = self._learners.get((tenant, learner_id))
        if stored is None or (stored.ilr_version is not None and stored.ilr_version > ilr_version):
            return False
        stored.programme, stored.ilr_version = status, ilr_version
        return True

    async def groups(self, tenant: str) -> list[str]:
        learner_groups = {s.record["group"] for (t, _), s in self._learners.items() if t == tenant}
        staff_groups = {g for (t, _), s in self._staff.items() if t == tenant for g in s["groups"]}
        return sorted(g for g in learner_groups | staff_groups if g)

    async def add_staff(
        self, tenant: str, staff: StaffUpdated, events: Sequence[Envelope[Any]]
    ) -> None:
        if (tenant, staff.id) in self._staff:
            raise StaffAlreadyExistsError(staff.id)
        self._staff[(tenant, staff.id)] = staff.model_dump(mode="json")
        self.outbox.extend(events)

    async def list_staff(self, tenant: str) -> list[StaffUpdated]:
        stored = [s for (t, _), s in sorted(self._staff.items()) if t == tenant]
        return [StaffUpdated.model_validate(s) for s in stored]

    async def get_staff(self, tenant: str, staff_id: str) -> StaffUpdated | None:
        stored = self._staff.get((tenant, staff_id))
        return None if stored is None else StaffUpdated.model_validate(stored)

    # --- for the tests ------------------------------------------------------------------------

    def version_of(self, tenant: str, learner_id: str) -> int:
        return self._learners[(tenant, learner_id)].version


def _marks(stored: _StoredLearner) -> dict[str, Any]:
    return {RECENT_FIELD: list(stored.applied_events), OFFSETS_FIELD: dict(stored.applied_offsets)}


def learner_service(store: FakeLearnerStore) -> LearnerService:
    """The service over the fake (typed, so mypy checks the fake fits the protocol)."""
    return LearnerService(store, events_written=lambda: None)


def _view(stored: _StoredLearner) -> LearnerView:
    return LearnerView.of(LearnerSnapshot.model_validate(stored.record), stored.programme)


class FakeDocumentStore:
    def __init__(self) -> None:
        self._documents: dict[tuple[str, str], tuple[dict[str, Any], int]] = {}
        self._pdfs: dict[tuple[str, str, str], bytes] = {}
        self.outbox: list[Envelope[Any]] = []
        self._racing_saves = 0

    async def get_documents(
        self, tenant: str, learner_id: str
    ) -> tuple[LearnerDocuments, int] | None:
        stored = self._documents.get((tenant, learner_id))
        if stored is None:
            return None
        return LearnerDocuments.model_validate(stored[0]), stored[1]

    async def save_documents(
        self,
        tenant: str,
        documents: LearnerDocuments,
        expected_revision: int,
        events: Sequence[Envelope[Any]],
    ) -> bool:
        key = (tenant, documents.learner_id)
        revision = self._documents[key][1] if key in self._documents else 0
        if self._racing_saves:
            self._racing_saves -= 1
            revision += 1  # someone else saved first
        if revision != expected_revision:
            return False
        self._documents[key] = (documents.model_dump(mode="json"), revision + 1)
        self.outbox.extend(events)
        return True

    async def put_pdf(self, tenant: str, learner_id: str, sha256: str, pdf: bytes) -> None:
        self._pdfs[(tenant, learner_id, sha256)] = pdf

    async def get_pdf(self, tenant: str, learner_id: str, sha256: str) -> bytes | None:
        return self._pdfs.get((tenant, learner_id, sha256))

    # --- for the tests ------------------------------------------------------------------------

    def race_next_save(self) -> None:
        """The next save finds that another writer saved first."""
        self._racing_saves += 1


class TextRenderer:
    """A renderer whose "PDF" is the version's fields as text: the use-case tests check what
    is issued, not how it is drawn (tests/unit/test_document_pdf.py does that)."""

    def render(self, learner_id: str, version: DocumentVersion) -> bytes:
        return f"{learner_id} {version.id} {version.fields.model_dump_json()}".encode()


def document_service(
    documents: FakeDocumentStore, learners: FakeLearnerStore, clock: Callable[[], datetime]
) -> DocumentService:
    """The document service over the fakes (typed, so mypy checks they fit the protocols)."""
    return DocumentService(documents, learners, TextRenderer(), lambda: None, clock=clock)
