"""What the learner use cases need of storage, as a protocol: the MongoDB adapter satisfies it
(mypy checks it where bootstrap wires it in) and the unit tests' in-memory fake does too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ilrflow.contracts.events import Envelope, LearnerSnapshot, StaffUpdated
from ilrflow.ilr_engine.status import ProgrammeStatus
from ilrflow.learner.domain.clients import ApiClient
from ilrflow.learner.domain.documents import DocumentVersion, LearnerDocuments
from ilrflow.learner.domain.listing import LearnerFilter, LearnerView
from ilrflow.platform.idempotency import Delivered, RecordPosition


class LearnerStore(Protocol):
    """Learners (versioned, with the ids of the events applied to each) and the staff directory,
    every write carrying its outbox events."""

    async def add_learner(
        self, tenant: str, learner: LearnerSnapshot, events: Sequence[Envelope[Any]]
    ) -> None: ...

    async def get_learner(
        self, tenant: str, learner_id: str
    ) -> tuple[LearnerSnapshot, int] | None: ...

    async def save_learner(
        self,
        tenant: str,
        learner: LearnerSnapshot,
        expected_version: int,
        events: Sequence[Envelope[Any]],
    ) -> bool:
        """Store the record if it is still at ``expected_version``; False otherwise, storing
        nothing."""
        ...

    async def get_learner_marked(
        self, tenant: str, learner_id: str
    ) -> tuple[LearnerSnapshot, int, dict[str, Any]] | None:
        """The record, its version and its marks of what it applied, in one read."""
        ...

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
        """Store a chain of consumed events' outcome (``learner``, None if unchanged, and
        ``events``, one version each), every event of ``applying`` as applied and ``last`` as the partition's
        offset, if the record is still at ``expected_version`` and none of ``applying`` is
        applied; False otherwise, storing nothing."""
        ...

    async def record_copies(
        self, tenant: str, learner_id: str, marks: dict[str, Any], chain: Sequence[Delivered[Any]]
    ) -> None:
        """For a chain whose events are all applied: record its last offset, if an event id
        told it (``ilrflow.platform.idempotency.chain_copy_offset``)."""
        ...

    async def get_learner_view(self, tenant: str, learner_id: str) -> LearnerView | None:
        """The record with the programme status stored beside it."""
        ...

    async def list_learners(
        self, tenant: str, where: LearnerFilter, after: str | None, limit: int
    ) -> list[LearnerView]:
        """The first ``limit`` learners admitted by ``where``, by id, after the id ``after``."""
        ...

    async def save_programme_status(
        self, tenant: str, learner_id: str, status: ProgrammeStatus | None, ilr_version: int
    ) -> bool:
        """Store the status read off ILR version ``ilr_version``, unless the learner is unknown
        or a status from a newer version is stored (then False, storing nothing)."""
        ...

    async def groups(self, tenant: str) -> list[str]: ...

    async def add_staff(
        self, tenant: str, staff: StaffUpdated, events: Sequence[Envelope[Any]]
    ) -> None:
        """Raise ``StaffAlreadyExistsError`` when the id is taken."""
        ...

    async def get_staff(self, tenant: str, staff_id: str) -> StaffUpdated | None: ...

    async def list_staff(self, tenant: str) -> list[StaffUpdated]:
        """The tenant's staff directory, by id."""
        ...


class DocumentStore(Protocol):
    """Each learner's training plan versions in one document (with a revision number, checked on
    save, and its outbox events), and the issued PDFs, stored once by their SHA-256."""

    async def get_documents(
        self, tenant: str, learner_id: str
    ) -> tuple[LearnerDocuments, int] | None:
        """The learner's documents and their revision, None before the first is stored."""
        ...

    async def save_documents(
        self,
        tenant: str,
        documents: LearnerDocuments,
        expected_revision: int,
        events: Sequence[Envelope[Any]],
    ) -> bool:
        """Store them if still at ``expected_revision`` (0: not stored yet); False otherwise,
        storing nothing."""
        ...

    async def put_pdf(self, tenant: str, learner_id: str, sha256: str, pdf: bytes) -> None:
        """Keep ``pdf`` under its hash; storing the same one again changes nothing."""
        ...

    async def get_pdf(self, tenant: str, learner_id: str, sha256: str) -> bytes | None: ...


class DocumentRenderer(Protocol):
    def render(self, learner_id: str, version: DocumentVersion) -> bytes:
        """The version as a PDF; the same version always gives the same bytes."""
        ...


class ApiClientStore(Protocol):
    """API clients by id, every write carrying its outbox events."""

    async def add(self, client: ApiClient, events: Sequence[Envelope[Any]]) -> None: ...

    async def get(self, client_id: str) -> ApiClient | None: ...

    async def list_for_tenant(
        self, tenant: str, after: str | None, limit: int
    ) -> list[ApiClient]: ...

    async def update(
        self, client_id: str, changes: Mapping[str, Any], events: Sequence[Envelope[Any]]
    ) -> None:
        """Set the named fields of the client (none: only store the events)."""
        ...
