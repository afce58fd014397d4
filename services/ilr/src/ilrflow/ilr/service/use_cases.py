"""ILR use cases: create the record from an enrolment, apply processed trackers, QA-verify,
export, the tenant's ILR settings, and the platform-wide 2025/26 minimum OTJ table.

Every outcome (applied, no_ilr_change, rejected) is published on ``ilr-updated`` so the tracker
shows why data did or did not change; every new version (and a QA verification) also refreshes
the compacted ``ilr-state`` topic with the whole current record. ``ilr-state`` goes into the
outbox *before* ``ilr-updated``: a reader that notes where ``ilr-updated`` ends, then reads
``ilr-state`` to its end, has every version up to that point (see docs/examples/).

An event is applied once, told by the record's offset and the event's id: the consumers skip an
event the record's marks say is applied, and the write that applies it is conditional on it not
being applied yet (``ilrflow.platform.idempotency``). That is one mechanism in two places: the
check on loading saves the work for a redelivery (a relay's republished copy has the same id),
the conditional write settles a redelivery racing the first delivery.

Processed trackers come in chains (``on_tracker_processed_chain``: one learner's records of a
consumer batch): the engine applies them one after the other in memory, and their versions,
events and positions are stored in one write of the record (``IlrStore.record_outcomes``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from ilrflow.contracts.errors import Conflict, FieldProblem, InvalidInput, NotFound
from ilrflow.contracts.events import (
    ILR_SETTINGS_SUBJECT,
    OTJ_MINIMUMS_SUBJECT,
    PLATFORM_TENANT,
    Envelope,
    IlrSettingsChanged,
    IlrState,
    IlrUpdated,
    IlrValidation,
    LearnerUpdated,
    OtjMinimumsLoaded,
    PatchOperation,
    TrackerProcessed,
    new_event,
    new_event_id,
    setting_changes,
)
from ilrflow.contracts.identity import Principal
from ilrflow.contracts.trackers import TRACKER_TYPES
from ilrflow.contracts.visibility import may_read_learner
from ilrflow.ilr.adapters.repository import HistoryEntry, IlrDocument
from ilrflow.ilr.domain.settings import IlrSettings
from ilrflow.ilr.service.ports import IlrSettingsStore, IlrStore, ReferenceStore
from ilrflow.ilr_engine import (
    IlrLearner,
    JsonPatch,
    TrackerApplication,
    apply_tracker,
    export_message,
    learner_from_enrolment,
    published,
    published_patch,
)
from ilrflow.ilr_engine.esfa_rules import Validation, validate, validate_learner
from ilrflow.ilr_engine.export import learners_for_year
from ilrflow.platform.errors import TransientError
from ilrflow.platform.idempotency import Delivered, current_position, not_applied
from ilrflow.platform.logging import get_logger

log = get_logger(__name__)

Cause = Literal["enrolment", "tracker"]


@dataclass(frozen=True)
class Decision:
    """What one incoming event does to the ILR: the outcome, and if applied the new record and
    the patch from the published record before to the published new one."""

    status: Literal["applied", "no_ilr_change", "rejected"]
    reason: str
    record: IlrLearner | None = None
    patch: JsonPatch = field(default_factory=list)

    @property
    def applied(self) -> bool:
        return self.status == "applied"


@dataclass(frozen=True)
class Outcome:
    """What one event writes: the new record and its history entry when it makes a version,
    and the events telling of it."""

    record: IlrLearner | None
    history: HistoryEntry | None
    events: list[Envelope[Any]]


@dataclass(frozen=True)
class Export:
    filename: str
    body: bytes


@dataclass(frozen=True)
class LearnerValidation:
    learner_id: str
    validation: Validation


@dataclass(frozen=True)
class ExportValidation:
    """The ESFA rule check of every learner in a year's file, in file order."""

    year: str
    learners: list[LearnerValidation]

    def as_json(self) -> dict[str, Any]:
        checks = [lv.validation for lv in self.learners]
        return {
            "year": self.year,
            "valid": all(v.valid for v in checks),
            "totals": {
                "learners": len(checks),
                "valid": sum(v.valid for v in checks),
                "invalid": sum(not v.valid for v in checks),
                "errors": sum(len(v.errors) for v in checks),
                "warnings": sum(len(v.warnings) for v in checks),
            },
            "learners": [
                {"learner_id": lv.learner_id, **lv.validation.as_json()} for lv in self.learners
            ],
        }


class IlrService:
    def __init__(
        self,
        repository: IlrStore,
        settings: IlrSettingsStore,
        reference: ReferenceStore,
        events_written: Callable[[], None],
        default_ukprn: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.repository = repository
        self.settings = settings
        self.reference = reference
        self._events_written = events_written
        self._default_ukprn = default_ukprn
        self._clock = clock

    # --- consumers ------------------------------------------------------------------------

    async def on_learner_updated(self, event: Envelope[LearnerUpdated]) -> None:
        """An enrolment creates (or extends) the learner's ILR; a move to another group (a
        correction) moves who reads it."""
        update = event.data
        if update.change == "enrolled" and update.enrolment_id is not None:
            await self._enrol(event, update.enrolment_id)
        elif update.change == "changed" and "group" in update.changed_fields:
            await self._move_to_group(event)

    async def _enrol(self, event: Envelope[LearnerUpdated], enrolment_id: str) -> None:
        update = event.data
        enrolment = next(e for e in update.learner.enrolments if e.id == enrolment_id)
        current = await self._load_or_create(event.tenant, update.learner.id, update.learner.group)
        if await self.repository.is_applied(current, event.id):
            return  # a redelivery (see the module's docstring)
        record = learner_from_enrolment(update.learner, enrolment, current.learner)
        decision = Decision(
            "applied",
            f"Enrolment on standard {enrolment.standard_code} from {enrolment.start_date}.",
            record,
            published_patch(current.learner, record),
        )
        # The learner's group decides which tutors see the ILR; keep it as the enrolment says.
        await self._store(
            current,
            event,
            decision,
            cause="enrolment",
            tracker_id=None,
            extra={"group": update.learner.group},
        )

    async def _move_to_group(self, event: Envelope[LearnerUpdated]) -> None:
        """The ILR is read by the tutors of the learner's group (``may_see``): keep the group the
        learner service now records. No ILR data changes, so no new version and no event."""
        learner = event.data.learner
        current = await self.repository.get(event.tenant, learner.id)
        if current is None or await self.repository.is_applied(current, event.id):
            return  # not enrolled yet (the enrolment will bring the group), or a redelivery
        stored = await self.repository.record_outcome(
            current,
            event_id=event.id,
            new_learner=None,
            history=None,
            events=[],
            extra={"group": learner.group},
        )
        if not stored:
            raise TransientError("ILR record changed concurrently; retrying")

    async def on_tracker_processed(self, event: Envelope[TrackerProcessed]) -> None:
        """One processed tracker: a chain of one, at the position of the record being handled."""
        await self.on_tracker_processed_chain([Delivered(event, current_position())])

    async def on_tracker_processed_chain(
        self, chain: Sequence[Delivered[TrackerProcessed]]
    ) -> None:
        """One learner's processed trackers, in order: each decided on the record the ones
        before it left, all stored in one conditional write with every event's position. The
        tenant's settings and the OTJ table are read once for the chain."""
        first = chain[0].event
        current = await self._load_or_create(first.tenant, first.data.learner_id, None)
        applying = not_applied(current.applied, chain)
        if not applying:  # redeliveries (see the module's docstring)
            await self.repository.record_copies(current, chain)
            return
        settings = await self.settings.get(first.tenant)
        otj_table = await self.reference.otj_minimums()
        otj_minimums = otj_table.by_standard() if otj_table else None
        state, outcomes = current, []
        for delivered in applying:
            event = delivered.event
            decision = self._decide(state, event.data, settings, otj_minimums)
            outcome = self._outcome(
                state, event, decision, "tracker", event.data.tracker_id, otj_minimums
            )
            outcomes.append(outcome)
            if outcome.record is not None:
                state = replace(state, learner=outcome.record, version=state.version + 1)
        stored = await self.repository.record_outcomes(
            current,
            applying=applying,
            last=chain[-1].position,
            new_learner=state.learner if state is not current else None,
            histories=[o.history for o in outcomes if o.history is not None],
            events=[e for o in outcomes for e in o.events],
        )
        if not stored:
            raise TransientError("ILR record changed concurrently; retrying")
        log.info("ilr outcomes", trackers=len(applying), version=state.version)
        self._events_written()

    def _decide(
        self,
        current: IlrDocument,
        tracker: TrackerProcessed,
        settings: IlrSettings,
        otj_minimums: Mapping[int, int] | None,
    ) -> Decision:
        if current.learner is None:
            return Decision(
                "no_ilr_change", "The learner has no ILR yet: they are not enrolled on a programme."
            )
        application = TrackerApplication(
            tracker_id=tracker.tracker_id,
            tracker_type=tracker.tracker_type,
            changes=tracker.changes,
            processor_roles=tuple(tracker.processor_roles),
            qa_verified=current.qa_verified,
            policy=settings.policy(otj_minimums),
            # The tracker service processes built-in types and the tenant's own (custom) ones.
            custom=tracker.tracker_type not in TRACKER_TYPES,
            today=self._clock().date(),
        )
        result = apply_tracker(current.learner, application)
        return Decision(result.status, result.reason, result.record, result.patch)

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
        decision: Decision,
        *,
        cause: Cause,
        tracker_id: str | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        outcome = self._outcome(
            current, cause_event, decision, cause, tracker_id, await self._otj_minimums()
        )
        stored = await self.repository.record_outcome(
            current,
            event_id=cause_event.id,
            new_learner=outcome.record,
            history=outcome.history,
            events=outcome.events,
            extra=extra,
        )
        if not stored:
            raise TransientError("ILR record changed concurrently; retrying")
        self._events_written()

    def _outcome(
        self,
        current: IlrDocument,
        cause_event: Envelope[Any],
        decision: Decision,
        cause: Cause,
        tracker_id: str | None,
        otj_minimums: Mapping[int, int] | None,
    ) -> Outcome:
        new_record = decision.record if decision.applied else None
        version = current.version + 1 if new_record is not None else current.version
        patch = decision.patch  # computed once, by the engine: published, kept and shown as is
        update = IlrUpdated(
            learner_id=current.learner_id,
            tenant=current.tenant,
            tracker_id=tracker_id,
            cause=cause,
            version=version,
            outcome=decision.status,
            reason=decision.reason,
            patch=[PatchOperation.model_validate(op) for op in patch],
            validation=self._event_validation(new_record or current.learner, otj_minimums),
        )
        payloads: list[Any] = [update]
        history = None
        if new_record is not None:
            payloads.insert(
                0, _state(current, version, current.qa_verified, new_record, tracker_id)
            )
            history = HistoryEntry(
                version=version,
                actor=cause_event.actor,
                at=self._clock(),
                cause=cause,
                tracker_id=tracker_id,
                outcome=decision.status,
                reason=decision.reason,
                patch=patch,
            )
        events = [_caused_by(cause_event, current.learner_id, p) for p in payloads]
        log.info("ilr outcome", outcome=decision.status, version=version, reason=decision.reason)
        return Outcome(new_record, history, events)

    # --- queries and commands -------------------------------------------------------------

    async def get(self, principal: Principal, learner_id: str) -> IlrDocument:
        found = await self.repository.get(principal.tenant, learner_id)
        if found is None or found.learner is None or not may_see(principal, found):
            raise NotFound.of("ILR for learner", learner_id)
        return found

    async def history(self, principal: Principal, learner_id: str) -> list[dict[str, Any]]:
        """Every version of the learner's ILR, oldest first."""
        return await self.repository.history(await self.get(principal, learner_id))

    async def qa_verify(self, principal: Principal, learner_id: str) -> IlrDocument:
        current = await self.get(principal, learner_id)
        if current.qa_verified:
            return current
        assert current.learner is not None  # get() returns only learners with an ILR
        state = _state(current, current.version, True, current.learner, tracker_id=None)
        update = IlrUpdated(
            learner_id=learner_id,
            tenant=principal.tenant,
            cause="qa_verification",
            version=current.version,
            outcome="no_ilr_change",
            reason=(
                f"ILR QA-verified by {principal.sub}: programme changes now need the ILR QA role."
            ),
            validation=self._event_validation(current.learner, await self._otj_minimums()),
        )
        correlation_id = new_event_id()
        events = [
            new_event(
                payload,
                tenant=principal.tenant,
                subject=learner_id,
                actor=principal.sub,
                correlation_id=correlation_id,
            )
            for payload in (state, update)
        ]
        stored = await self.repository.record_outcome(
            current,
            event_id=None,
            new_learner=None,
            history=None,
            events=events,
            extra={"qa_verified": True, "qa_verified_by": principal.sub},
        )
        if not stored:
            raise Conflict("The ILR changed meanwhile; try again.")
        self._events_written()
        return await self.get(principal, learner_id)

    async def export(self, principal: Principal, year: str) -> Export:
        settings = await self.settings.get(principal.tenant)
        ukprn = settings.ukprn_or(self._default_ukprn)
        documents = await self.repository.list_for_tenant(principal.tenant)
        try:
            body = export_message(
                [d.learner for d in documents if d.learner],
                ukprn=ukprn,
                year=year,
                prepared=self._clock(),
            )
        except ValueError as error:  # e.g. a 2025/26 file with no learner in the year
            raise InvalidInput(str(error), code="nothing_to_export") from error
        return Export(filename=f"ILR-{ukprn}-{year}.xml", body=body)

    async def validation(self, principal: Principal, learner_id: str) -> Validation:
        """The ESFA rule check of the learner's current ILR, as of today."""
        current = await self.get(principal, learner_id)
        assert current.learner is not None  # get() returns only learners with an ILR
        return await self._validate(current.learner)

    async def export_validation(self, principal: Principal, year: str) -> ExportValidation:
        """The ESFA rule check of each learner as they go into ``year``'s file."""
        otj_minimums = await self._otj_minimums()
        today = self._clock().date()
        checked = []
        for document in await self.repository.list_for_tenant(principal.tenant):
            for learner in learners_for_year([document.learner] if document.learner else [], year):
                found = validate_learner(learner, today=today, otj_minimums=otj_minimums)
                checked.append(
                    (learner.LearnRefNumber, LearnerValidation(document.learner_id, found))
                )
        checked.sort(key=lambda pair: pair[0])  # file order
        return ExportValidation(year, [lv for _, lv in checked])

    async def _validate(self, record: IlrLearner) -> Validation:
        return validate(record, today=self._clock().date(), otj_minimums=await self._otj_minimums())

    def _event_validation(
        self, record: IlrLearner | None, otj_minimums: Mapping[int, int] | None
    ) -> IlrValidation | None:
        if record is None:
            return None
        found = validate(record, today=self._clock().date(), otj_minimums=otj_minimums)
        return IlrValidation.model_validate(found.as_json())

    async def _otj_minimums(self) -> Mapping[int, int] | None:
        """The platform's loaded 2025/26 minimum OTJ table (None: not loaded, minimum unknown)."""
        table = await self.reference.otj_minimums()
        return table.by_standard() if table else None

    async def tenant_settings(self, principal: Principal) -> IlrSettings:
        return await self.settings.get(principal.tenant)

    async def update_tenant_settings(
        self, principal: Principal, fields: dict[str, Any]
    ) -> IlrSettings:
        current = await self.settings.get(principal.tenant)
        try:
            updated = IlrSettings.model_validate({**current.model_dump(), **fields})
        except ValidationError as error:
            raise _invalid("The ILR settings are not valid.", error) from error
        before, after = current.model_dump(mode="json"), updated.model_dump(mode="json")
        changes = setting_changes(before, after)
        if not changes:
            return updated  # nothing to store, nothing to tell
        event = new_event(
            IlrSettingsChanged(changes=changes, settings=after),
            tenant=principal.tenant,
            subject=ILR_SETTINGS_SUBJECT,
            actor=principal.sub,
        )
        await self.settings.save(principal.tenant, updated, [event])
        self._events_written()
        return updated

    # --- platform-wide reference data -----------------------------------------------------

    async def otj_minimums(self) -> OtjMinimumsLoaded:
        table = await self.reference.otj_minimums()
        if table is None:
            raise NotFound("No 2025/26 minimum OTJ table is loaded.", code="not_loaded")
        return table

    async def load_otj_minimums(
        self, principal: Principal, source: str, minimums: list[dict[str, Any]]
    ) -> OtjMinimumsLoaded:
        """Replace the platform's table and announce it on ``reference-data`` (one write)."""
        try:
            table = OtjMinimumsLoaded.model_validate(
                {
                    "source": source,
                    "loaded_at": self._clock(),
                    "loaded_by": principal.sub,
                    "minimums": minimums,
                }
            )
        except ValidationError as error:
            raise _invalid("The minimum OTJ table is not valid.", error) from error
        event = new_event(
            table, tenant=PLATFORM_TENANT, subject=OTJ_MINIMUMS_SUBJECT, actor=principal.sub
        )
        await self.reference.save_otj_minimums(table, [event])
        log.info("otj minimums loaded", source=source, standards=len(table.minimums))
        self._events_written()
        return table


def _invalid(message: str, error: ValidationError) -> InvalidInput:
    problems = [
        FieldProblem(field=".".join(str(p) for p in e["loc"]), reason=e["msg"])
        for e in error.errors()
    ]
    return InvalidInput(message, problems)


def _state(
    current: IlrDocument,
    version: int,
    qa_verified: bool,
    record: IlrLearner,
    tracker_id: str | None,
) -> IlrState:
    return IlrState(
        learner_id=current.learner_id,
        tenant=current.tenant,
        version=version,
        qa_verified=qa_verified,
        learner=published(record),
        tracker_id=tracker_id,
    )


def _caused_by(cause: Envelope[Any], learner_id: str, payload: Any) -> Envelope[Any]:
    return new_event(
        payload,
        tenant=cause.tenant,
        subject=learner_id,
        actor=cause.actor,
        correlation_id=cause.correlation_id,
        causation_id=cause.id,
    )


def may_see(principal: Principal, document: IlrDocument) -> bool:
    """Whoever may read the learner reads their ILR (``ilrflow.contracts.visibility``)."""
    return may_read_learner(
        principal.sub, principal.roles, principal.groups, document.learner_id, document.group
    )
