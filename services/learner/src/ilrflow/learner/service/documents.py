"""Training plan use cases: refresh a learner's documents when their record or ILR changes, list
the versions, serve a version's PDF and record an acknowledgement."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ilrflow.contracts import visibility
from ilrflow.contracts.errors import Conflict, FieldProblem, Forbidden, InvalidInput, NotFound
from ilrflow.contracts.events import (
    DocumentAcknowledged,
    DocumentIssued,
    DocumentParty,
    Envelope,
    IlrState,
    LearnerSnapshot,
    TrackerProcessed,
    new_event,
)
from ilrflow.contracts.identity import Principal
from ilrflow.learner.domain.documents import (
    Acknowledgement,
    DocumentFields,
    DocumentVersion,
    LearnerDocuments,
    document_fields,
)
from ilrflow.learner.service.ports import DocumentRenderer, DocumentStore, LearnerStore
from ilrflow.learner.service.use_cases import may_see
from ilrflow.platform.errors import TransientError
from ilrflow.platform.idempotency import Delivered
from ilrflow.platform.logging import get_logger

log = get_logger(__name__)
# Staff who act for a learner record the employer's acknowledgement; support, operators and
# ILR QA read documents but sign nothing.
EMPLOYER_ACKNOWLEDGEMENT_RECORDERS = frozenset({"admin", "tutor"})


@dataclass(frozen=True)
class DocumentCause:
    """The event that led to a refresh (whose actor and correlation the new version's event
    carries) and the tracker behind it, if any."""

    event: Envelope[Any]
    tracker_id: str | None


@dataclass(frozen=True)
class IlrSnapshot:
    version: int
    record: dict[str, Any]


class AcknowledgementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party: DocumentParty = Field(
        description="learner: the learner themself; employer: staff recording the employer's."
    )
    signatory: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Who signed for the employer (required for employer); a learner signs as "
        "the name on their record.",
    )


class DocumentView(BaseModel):
    """One version as the API lists it."""

    id: str
    version: int
    title: str
    created_at: datetime
    fields: DocumentFields
    changed_fields: list[str]
    caused_by_tracker: str | None
    needs_signature: bool
    awaiting: list[DocumentParty] = Field(description="Who has not acknowledged it yet.")
    superseded: bool
    acknowledgements: list[Acknowledgement]
    pdf_sha256: str

    @classmethod
    def of(cls, documents: LearnerDocuments, version: DocumentVersion) -> DocumentView:
        superseded = version.version != len(documents.versions)
        return cls(
            **version.model_dump(exclude={"acknowledgements", "fields"}),
            fields=version.fields,
            acknowledgements=version.acknowledgements,
            needs_signature=documents.needs_signature(version),
            awaiting=[] if superseded else version.awaiting(),
            superseded=superseded,
        )


class DocumentService:
    def __init__(
        self,
        documents: DocumentStore,
        learners: LearnerStore,
        renderer: DocumentRenderer,
        events_written: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.documents = documents
        self.learners = learners
        self.renderer = renderer
        self._events_written = events_written
        self._clock = clock

    # --- consumers ------------------------------------------------------------------------

    async def on_ilr_state(self, event: Envelope[IlrState]) -> None:
        state = event.data
        await self.refresh_documents(
            event.tenant,
            state.learner_id,
            DocumentCause(event, state.tracker_id),
            IlrSnapshot(state.version, state.learner),
        )

    async def on_ilr_state_chain(self, chain: Sequence[Delivered[IlrState]]) -> None:
        """One learner's ILR states of a batch: one refresh, with the newest (see
        ``on_tracker_processed_chain``)."""
        await self.on_ilr_state(max(chain, key=lambda d: d.event.data.version).event)

    async def on_tracker_processed(self, event: Envelope[TrackerProcessed]) -> None:
        """After the master record took a processed tracker (a new name or employer)."""
        tracker = event.data
        cause = DocumentCause(event, tracker.tracker_id)
        await self.refresh_documents(event.tenant, tracker.learner_id, cause)

    async def on_tracker_processed_chain(
        self, chain: Sequence[Delivered[TrackerProcessed]]
    ) -> None:
        """After the master record took one learner's processed trackers of a batch: one
        refresh, named for the last. A refresh reads the master record as stored now, so one
        refresh after the chain issues the plan every refresh in turn would end with; the
        versions those would have issued in between (superseded within the batch) are not
        issued."""
        await self.on_tracker_processed(chain[-1].event)

    async def refresh_documents(
        self, tenant: str, learner_id: str, cause: DocumentCause, ilr: IlrSnapshot | None = None
    ) -> None:
        """Issue a new training plan version if the master record or the ILR (``ilr``, when a
        newer one arrives; else the latest seen) changed one of its fields. Safe to repeat: the
        same inputs issue nothing twice."""
        found_learner = await self.learners.get_learner(tenant, learner_id)
        if found_learner is None:
            log.warning("documents for an unknown learner", learner_id=learner_id)
            return
        found = await self.documents.get_documents(tenant, learner_id)
        before, revision = found or (LearnerDocuments(learner_id=learner_id), 0)
        after = before if ilr is None else before.with_ilr(ilr.version, ilr.record)
        events: list[Envelope[Any]] = []
        version = self._next_version(found_learner[0], after, cause)
        if version is not None:
            version = await self._issue(tenant, learner_id, version)
            after = after.issued(version)
            events.append(self._issued_event(tenant, learner_id, version, cause))
        if after == before:
            return
        if not await self.documents.save_documents(tenant, after, revision, events):
            raise TransientError("the learner's documents changed concurrently; retrying")
        if events:
            self._events_written()

    def _next_version(
        self, learner: LearnerSnapshot, documents: LearnerDocuments, cause: DocumentCause
    ) -> DocumentVersion | None:
        if documents.ilr_record is None:
            return None  # nothing to state before the ILR exists
        fields = document_fields(learner, documents.ilr_record)
        if fields is None:
            return None
        return documents.next_version(fields, cause.tracker_id, self._clock())

    async def _issue(
        self, tenant: str, learner_id: str, version: DocumentVersion
    ) -> DocumentVersion:
        pdf = self.renderer.render(learner_id, version)
        sha256 = hashlib.sha256(pdf).hexdigest()
        await self.documents.put_pdf(tenant, learner_id, sha256, pdf)
        return version.model_copy(update={"pdf_sha256": sha256})

    @staticmethod
    def _issued_event(
        tenant: str, learner_id: str, version: DocumentVersion, cause: DocumentCause
    ) -> Envelope[DocumentIssued]:
        payload = DocumentIssued(
            learner_id=learner_id,
            document_id=version.id,
            version=version.version,
            title=version.title,
            changed_fields=version.changed_fields,
            tracker_id=version.caused_by_tracker,
            pdf_sha256=version.pdf_sha256,
        )
        return new_event(
            payload,
            tenant=tenant,
            subject=learner_id,
            actor=cause.event.actor,
            correlation_id=cause.event.correlation_id,
            causation_id=cause.event.id,
        )

    # --- HTTP -----------------------------------------------------------------------------

    async def list_documents(self, principal: Principal, learner_id: str) -> list[DocumentView]:
        await self._visible_learner(principal, learner_id)
        found = await self.documents.get_documents(principal.tenant, learner_id)
        if found is None:
            return []
        documents = found[0]
        return [DocumentView.of(documents, v) for v in reversed(documents.versions)]

    async def pdf(self, principal: Principal, learner_id: str, document_id: str) -> bytes:
        _, documents, _ = await self._documents(principal, learner_id, document_id)
        version = documents.find(document_id)
        pdf = await self.documents.get_pdf(principal.tenant, learner_id, version.pdf_sha256)
        if pdf is None:
            raise NotFound.of("PDF of document", document_id)
        return pdf

    async def acknowledge(
        self, principal: Principal, learner_id: str, document_id: str, body: AcknowledgementIn
    ) -> DocumentView:
        learner, documents, revision = await self._documents(principal, learner_id, document_id)
        acknowledgement = Acknowledgement(
            party=body.party,
            signatory=_signatory(principal, learner, body),
            recorded_by=principal.sub,
            at=self._clock(),
        )
        signed, version = documents.acknowledged(document_id, acknowledgement)
        if signed == documents:
            return DocumentView.of(documents, version)  # acknowledged before by this party
        payload = DocumentAcknowledged(
            learner_id=learner_id,
            document_id=version.id,
            version=version.version,
            party=acknowledgement.party,
            acknowledged_by=principal.sub,
            signatory=acknowledgement.signatory,
            pdf_sha256=version.pdf_sha256,
        )
        event = new_event(payload, tenant=principal.tenant, subject=learner_id, actor=principal.sub)
        if not await self.documents.save_documents(principal.tenant, signed, revision, [event]):
            raise Conflict("The learner's documents changed meanwhile; try again.")
        self._events_written()
        return DocumentView.of(signed, version)

    async def _visible_learner(self, principal: Principal, learner_id: str) -> LearnerSnapshot:
        found = await self.learners.get_learner(principal.tenant, learner_id)
        if found is None or not may_see(principal, found[0]):
            raise NotFound.of("learner", learner_id)
        return found[0]

    async def _documents(
        self, principal: Principal, learner_id: str, document_id: str
    ) -> tuple[LearnerSnapshot, LearnerDocuments, int]:
        learner = await self._visible_learner(principal, learner_id)
        found = await self.documents.get_documents(principal.tenant, learner_id)
        if found is None:
            raise NotFound.of("document", document_id)
        return learner, *found


def _signatory(principal: Principal, learner: LearnerSnapshot, body: AcknowledgementIn) -> str:
    """Who signed, once the caller is known to be allowed to record ``body.party``: a learner
    acknowledges only for themself, staff who act for the learner only for the employer."""
    if body.party == "learner":
        if principal.sub != learner.id:
            raise Forbidden("Only the learner acknowledges a document for themself.")
        return f"{learner.given_names} {learner.family_name}"
    acts_for_learner = visibility.in_scope(
        principal.sub, principal.roles, principal.groups, learner.id, learner.group
    )
    if not acts_for_learner or EMPLOYER_ACKNOWLEDGEMENT_RECORDERS.isdisjoint(principal.roles):
        raise Forbidden(
            "Only an admin or tutor of the learner records the employer's acknowledgement."
        )
    if body.signatory is None:
        raise InvalidInput(
            "Name who signed for the employer.",
            [FieldProblem(field="signatory", reason="required for the employer")],
        )
    return body.signatory
