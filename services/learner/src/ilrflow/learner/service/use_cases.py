"""Learner use cases: load, decide with the domain, store state and events in one write.

Processed trackers come in chains (one learner's records of a consumer batch): the domain applies
them one after the other in memory and the record, its events and every event's position are one
conditional write (``on_tracker_processed_chain``); one record is a chain of one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ilrflow.contracts import visibility
from ilrflow.contracts.errors import (
    Conflict,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    PermanentError,
    problems_summary,
)
from ilrflow.contracts.events import (
    Envelope,
    IlrState,
    LearnerSnapshot,
    LearnerUpdated,
    StaffUpdated,
    TrackerProcessed,
    new_event,
)
from ilrflow.contracts.identity import Principal, may_be_primary_tutor
from ilrflow.contracts.trackers import read_changes
from ilrflow.ilr_engine.status import ProgrammeStatus, programme_status
from ilrflow.learner.adapters.repository import StaffAlreadyExistsError
from ilrflow.learner.domain.ilr_rules import enrolment_breaches
from ilrflow.learner.domain.listing import LearnerFilter, LearnerView
from ilrflow.learner.domain.model import (
    EnrolmentIn,
    LearnerIn,
    StaffIn,
    apply_processed_tracker,
    new_enrolment_id,
    new_learner_id,
    snapshot_from_input,
)
from ilrflow.learner.service.ports import LearnerStore
from ilrflow.platform.errors import TransientError
from ilrflow.platform.idempotency import Delivered, current_position, not_applied
from ilrflow.platform.logging import get_logger

log = get_logger(__name__)


class LearnerService:
    def __init__(
        self,
        repository: LearnerStore,
        events_written: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.repository = repository
        self._events_written = events_written
        self._clock = clock

    # --- staff ----------------------------------------------------------------------------

    async def register_staff(self, principal: Principal, data: StaffIn) -> StaffUpdated:
        staff = StaffUpdated(
            id=data.id, name=data.name, email=str(data.email), roles=data.roles, groups=data.groups
        )
        event = new_event(staff, tenant=principal.tenant, subject=staff.id, actor=principal.sub)
        try:
            await self.repository.add_staff(principal.tenant, staff, [event])
        except StaffAlreadyExistsError as error:
            raise Conflict(f"Staff member {data.id!r} already exists.") from error
        self._events_written()
        return staff

    async def staff_directory(self, principal: Principal) -> list[StaffUpdated]:
        return await self.repository.list_staff(principal.tenant)

    async def staff_member(self, principal: Principal, staff_id: str) -> StaffUpdated:
        staff = await self.repository.get_staff(principal.tenant, staff_id)
        if staff is None:
            raise NotFound.of("staff member", staff_id)
        return staff

    # --- learners -------------------------------------------------------------------------

    async def staff_record(self, principal: Principal) -> StaffUpdated | None:
        """The caller's own staff record, if they have been registered."""
        return await self.repository.get_staff(principal.tenant, principal.sub)

    async def groups(self, principal: Principal) -> list[str]:
        return await self.repository.groups(principal.tenant)

    async def create_learner(self, principal: Principal, data: LearnerIn) -> LearnerSnapshot:
        if not _may_create_in(principal, data.group):
            raise Forbidden(f"You may only create learners in your groups, not {data.group!r}.")
        if data.primary_tutor_id is not None:
            tutor = await self.repository.get_staff(principal.tenant, data.primary_tutor_id)
            if tutor is None or not may_be_primary_tutor(tutor.roles):
                raise InvalidInput(
                    f"primary_tutor_id {data.primary_tutor_id!r} is not a tutor of this tenant.",
                    [FieldProblem(field="primary_tutor_id", reason="unknown tutor")],
                )
        learner = snapshot_from_input(new_learner_id(), data)
        event = self._learner_event(principal, LearnerUpdated(change="created", learner=learner))
        await self.repository.add_learner(principal.tenant, learner, [event])
        self._events_written()
        return learner

    async def enrol(
        self, principal: Principal, learner_id: str, data: EnrolmentIn
    ) -> LearnerSnapshot:
        learner, version = await self._visible_learner(principal, learner_id)
        enrolment = data.to_enrolment(new_enrolment_id())
        enrolled = learner.model_copy(update={"enrolments": [*learner.enrolments, enrolment]})
        breaches = enrolment_breaches(enrolled, enrolment, today=self._clock().date())
        if breaches:
            raise InvalidInput(
                f"The enrolment would break ESFA's ILR rules: {problems_summary(breaches)}",
                breaches,
                code="ilr_rule",
            )
        payload = LearnerUpdated(
            change="enrolled",
            learner=enrolled,
            changed_fields=["enrolments"],
            enrolment_id=enrolment.id,
        )
        event = self._learner_event(principal, payload)
        if not await self.repository.save_learner(principal.tenant, enrolled, version, [event]):
            raise Conflict("The learner changed meanwhile; try again.")
        self._events_written()
        return enrolled

    async def get_learner(self, principal: Principal, learner_id: str) -> LearnerView:
        learner = await self.repository.get_learner_view(principal.tenant, learner_id)
        if learner is None or not may_see(principal, learner):
            raise NotFound.of("learner", learner_id)
        return learner

    async def list_learners(
        self, principal: Principal, where: LearnerFilter, after: str | None, limit: int
    ) -> list[LearnerView]:
        """Up to ``limit`` of the learners the caller may see that ``where`` admits, by id,
        after the learner ``after``: a learner sees only themself, staff their groups."""
        return await self.repository.list_learners(
            principal.tenant, _within_sight(principal, where), after, limit
        )

    async def _visible_learner(
        self, principal: Principal, learner_id: str
    ) -> tuple[LearnerSnapshot, int]:
        found = await self.repository.get_learner(principal.tenant, learner_id)
        if found is None or not may_see(principal, found[0]):
            raise NotFound.of("learner", learner_id)
        return found

    def _learner_event(
        self, principal: Principal, payload: LearnerUpdated, **kwargs: Any
    ) -> Envelope[LearnerUpdated]:
        return new_event(
            payload,
            tenant=principal.tenant,
            subject=payload.learner.id,
            actor=principal.sub,
            **kwargs,
        )

    # --- consumer -------------------------------------------------------------------------

    async def on_tracker_processed(self, event: Envelope[TrackerProcessed]) -> None:
        """Apply an approved change to the master record: a chain of one, at the position of
        the record being handled."""
        await self.on_tracker_processed_chain([Delivered(event, current_position())])

    async def on_tracker_processed_chain(
        self, chain: Sequence[Delivered[TrackerProcessed]]
    ) -> None:
        """Apply one learner's approved changes in order (one read, one conditional write with
        every event's position); idempotent by offset and event id. A change that changes
        nothing is remembered as applied and publishes nothing."""
        first = chain[0].event
        found = await self.repository.get_learner_marked(first.tenant, first.data.learner_id)
        if found is None:
            log.warning(
                "processed tracker for an unknown learner", learner_id=first.data.learner_id
            )
            return
        learner, version, marks = found
        applying = not_applied(marks, chain)
        if not applying:  # redeliveries
            await self.repository.record_copies(first.tenant, learner.id, marks, chain)
            return
        outgoing = []
        for delivered in applying:
            learner, changed = self._apply_tracker(learner, delivered.event)
            outgoing.extend(changed)
        stored = await self.repository.save_learner_chain(
            first.tenant,
            learner.id,
            learner if outgoing else None,
            version,
            outgoing,
            applying=applying,
            last=chain[-1].position,
        )
        if not stored:
            raise TransientError("learner changed concurrently; retrying")
        if outgoing:
            self._events_written()

    def _apply_tracker(
        self, learner: LearnerSnapshot, event: Envelope[TrackerProcessed]
    ) -> tuple[LearnerSnapshot, list[Envelope[LearnerUpdated]]]:
        """The record after one processed tracker and the event telling of it (none if it
        changed nothing)."""
        tracker = event.data
        changes = read_changes(tracker.tracker_type, tracker.changes)
        changed_learner, changed_fields = apply_processed_tracker(learner, changes)
        if not changed_fields:
            return learner, []
        payload = LearnerUpdated(
            change="changed",
            learner=changed_learner,
            changed_fields=changed_fields,
            tracker_id=tracker.tracker_id,
        )
        outgoing = new_event(
            payload,
            tenant=event.tenant,
            subject=learner.id,
            actor=tracker.processed_by,
            correlation_id=event.correlation_id,
            causation_id=event.id,
        )
        return changed_learner, [outgoing]

    async def on_ilr_state(self, event: Envelope[IlrState]) -> None:
        """Keep the learner's programme status as their current ILR says it; ordered by ILR
        version (an older version arriving late changes nothing), so idempotent."""
        await self.on_ilr_state_chain([Delivered(event, current_position())])

    async def on_ilr_state_chain(self, chain: Sequence[Delivered[IlrState]]) -> None:
        """One learner's ILR states in order: each one's status is read (an unreadable one
        fails the chain, so it goes record by record and that one alone is dead-lettered) and
        only the newest version's is stored, which is what storing each in turn leaves."""
        states = [delivered.event.data for delivered in chain]
        statuses = [_status_of(state) for state in states]
        newest = max(range(len(states)), key=lambda n: states[n].version)
        state, status = states[newest], statuses[newest]
        stored = await self.repository.save_programme_status(
            chain[newest].event.tenant, state.learner_id, status, state.version
        )
        if not stored:
            log.info(
                "programme status not stored: unknown learner or a newer ILR version",
                learner_id=state.learner_id,
                ilr_version=state.version,
            )


def _status_of(state: IlrState) -> ProgrammeStatus | None:
    try:
        return programme_status(state.learner)
    except ValueError as error:
        message = f"ILR version {state.version} has no readable status: {error}"
        raise PermanentError(message) from error


def _within_sight(principal: Principal, where: LearnerFilter) -> LearnerFilter:
    """``where``, narrowed to the learners the caller may see (a list never answers 404)."""
    if not principal.is_staff:
        return replace(where, learner_id=principal.sub)
    groups = visible_groups(principal)
    if where.groups is not None:
        groups = [g for g in where.groups if groups is None or g in groups]
    return replace(where, groups=groups)


def _may_create_in(principal: Principal, group: str) -> bool:
    """Admins create learners anywhere; a tutor only in their own groups."""
    tutor_only = principal.has_role("tutor") and not principal.has_role("admin")
    return not tutor_only or group in principal.groups


def visible_groups(principal: Principal) -> list[str] | None:
    """The groups a member of staff reads (``ilrflow.contracts.visibility``); None: every one."""
    groups = visibility.visible_groups(principal.roles, principal.groups)
    return None if groups is None else sorted(groups)


def may_see(principal: Principal, learner: LearnerSnapshot) -> bool:
    return visibility.may_read_learner(
        principal.sub, principal.roles, principal.groups, learner.id, learner.group
    )
