"""ILR use cases: create the record from an enrolment, apply processed trackers, QA-verify.

Every outcome (applied, no_ilr_change, rejected) is published on ``ilr-updated`` so the tracker
shows why data did or did not change; every new version also refreshes the compacted
``ilr-state`` topic with the whole current record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from ilrflow.ilr.adapters.repository import HistoryEntry, IlrDocument, IlrRepository
from ilrflow.shared.auth import Principal
from ilrflow.shared.errors import TransientError
from ilrflow.shared.events import (
    Envelope,
    IlrState,
    IlrUpdated,
    LearnerUpdated,
    PatchOperation,
    TrackerProcessed,
    new_event,
)
from ilrflow.shared.http_errors import ApiError, not_found
from ilrflow.shared.ilr import (
    ApplyResult,
    IlrPolicy,
    TrackerApplication,
    apply_tracker,
    json_patch,
    learner_from_enrolment,
)
from ilrflow.shared.logging import get_logger

log = get_logger(__name__)


class IlrService:
    def __init__(
        self,
        repository: IlrRepository,
        events_written: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.repository = repository
        self._events_written = events_written
        self._clock = clock

    # --- consumers ------------------------------------------------------------------------

    async def on_learner_updated(self, event: Envelope[LearnerUpdated]) -> None:
        """An enrolment creates (or extends) the learner's ILR."""
        update = event.data
        if update.change != "enrolled" or update.enrolment_id is None:
            return
        enrolment = next(e for e in update.learner.enrolments if e.id == update.enrolment_id)
        current = await self._load_or_create(event.tenant, update.learner.id, update.learner.group)
        if event.id in current.applied_events:
            return
        new_record = learner_from_enrolment(update.learner, enrolment, current.learner)
        patch = json_patch(current.learner or {}, new_record)
        result = ApplyResult(
            status="applied",
            reason=f"Enrolment on standard {enrolment.standard_code} from {enrolment.start_date}.",
            record=new_record,
            patch=patch,
        )
        await self._store(current, event, result, cause="enrolment", tracker_id=None)

    async def on_tracker_processed(self, event: Envelope[TrackerProcessed]) -> None:
        tracker = event.data
        current = await self._load_or_create(event.tenant, tracker.learner_id, None)
        if event.id in current.applied_events:
            return
        if current.learner is None:
            result = ApplyResult(
                status="no_ilr_change",
                reason="The learner has no ILR yet: they are not enrolled on a programme.",
                record={},
                patch=[],
            )
        else:
            application = TrackerApplication(
                tracker_id=tracker.tracker_id,
                tracker_type=tracker.tracker_type,
                changes=tracker.changes,
                processor_roles=tuple(tracker.processor_roles),
                qa_verified=current.qa_verified,
                policy=IlrPolicy(),  # the tracker service resolved tenant choices into `changes`
            )
            result = apply_tracker(current.learner, application)
        await self._store(current, event, result, cause="tracker", tracker_id=tracker.tracker_id)

    async def _load_or_create(self, tenant: str, learner_id: str, group: str | None) -> IlrDocument:
        current = await self.repository.get(tenant, learner_id)
        if current is None:
            await self.repository.create_empty(tenant, learner_id, group)
            current = await self.repository.get(tenant, learner_id)
        assert current is not None
        return current

    async def _store(
        self,
        current: IlrDocument,
        cause_event: Envelope[Any],
        result: ApplyResult,
        *,
        cause: Literal["enrolment", "tracker"],
        tracker_id: str | None,
    ) -> None:
        applied = result.status == "applied"
        version = current.version + 1 if applied else current.version
        events: list[Envelope[Any]] = [
            self._event(
                cause_event,
                current.learner_id,
                IlrUpdated(
                    learner_id=current.learner_id,
                    tracker_id=tracker_id,
                    cause=cause,
                    version=version,
                    outcome=result.status,
                    reason=result.reason,
                    patch=[PatchOperation.model_validate(op) for op in result.patch],
                ),
            )
        ]
        history = None
        if applied:
            events.append(
                self._event(
                    cause_event,
                    current.learner_id,
                    IlrState(
                        learner_id=current.learner_id,
                        version=version,
                        qa_verified=current.qa_verified,
                        learner=result.record,
                    ),
                )
            )
            history = HistoryEntry(
                version=version,
                actor=cause_event.actor,
                at=self._clock(),
                cause=cause,
                tracker_id=tracker_id,
                outcome=result.status,
                reason=result.reason,
                patch=result.patch,
            )
        stored = await self.repository.record_outcome(
            current,
            event_id=cause_event.id,
            new_learner=result.record if applied else None,
            history=history,
            events=events,
        )
        if not stored:
            raise TransientError("ILR record changed concurrently; retrying")
        log.info("ilr outcome", outcome=result.status, version=version, reason=result.reason)
        self._events_written()

    def _event(self, cause: Envelope[Any], learner_id: str, payload: Any) -> Envelope[Any]:
        return new_event(
            payload,
            tenant=cause.tenant,
            subject=learner_id,
            actor=cause.actor,
            correlation_id=cause.correlation_id,
            causation_id=cause.id,
        )

    # --- queries and commands -------------------------------------------------------------

    async def get(self, principal: Principal, learner_id: str) -> IlrDocument:
        found = await self.repository.get(principal.tenant, learner_id)
        if found is None or found.learner is None or not may_see(principal, found):
            raise not_found("ILR for learner", learner_id)
        return found

    async def qa_verify(self, principal: Principal, learner_id: str) -> IlrDocument:
        current = await self.get(principal, learner_id)
        if current.qa_verified:
            return current
        request = new_event(
            IlrUpdated(
                learner_id=learner_id,
                cause="qa_verification",
                version=current.version,
                outcome="no_ilr_change",
                reason=f"ILR QA-verified by {principal.sub}: programme changes now need the ILR QA role.",
            ),
            tenant=principal.tenant,
            subject=learner_id,
            actor=principal.sub,
        )
        state = new_event(
            IlrState(
                learner_id=learner_id,
                version=current.version,
                qa_verified=True,
                learner=current.learner or {},
            ),
            tenant=principal.tenant,
            subject=learner_id,
            actor=principal.sub,
            correlation_id=request.correlation_id,
        )
        stored = await self.repository.record_outcome(
            current,
            event_id=None,
            new_learner=None,
            history=None,
            events=[request, state],
            extra={"qa_verified": True, "qa_verified_by": principal.sub},
        )
        if not stored:
            raise ApiError(409, "conflict", "The ILR changed meanwhile; try again.")
        self._events_written()
        return await self.get(principal, learner_id)


def may_see(principal: Principal, document: IlrDocument) -> bool:
    if not principal.is_staff:
        return principal.sub == document.learner_id
    if principal.has_role("admin", "ilr_qa", "support", "operator"):
        return True
    return document.group in principal.groups
