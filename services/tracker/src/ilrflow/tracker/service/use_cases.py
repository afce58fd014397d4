"""Tracker use cases: load the tracker and the tenant's policy, let the domain decide, store the
tracker and its events in one write."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from pydantic import ValidationError

from ilrflow.contracts.errors import (
    Conflict,
    FieldProblem,
    InvalidInput,
    NotFound,
    problems_summary,
)
from ilrflow.contracts.events import (
    TRACKER_SETTINGS_SUBJECT,
    Envelope,
    IlrUpdated,
    LearnerUpdated,
    Payload,
    TrackerSettingsChanged,
    new_event,
    setting_changes,
)
from ilrflow.contracts.identity import Principal, may_be_primary_tutor
from ilrflow.contracts.trackers import (
    ChangesModel,
    Correction,
    CustomTypeDefinition,
    ProgrammeDates,
    check_against_programme,
    custom_type_name,
)
from ilrflow.ilr_engine import IlrPolicy, preview
from ilrflow.platform.errors import TransientError
from ilrflow.tracker.adapters.projections import IlrView, LearnerView, StaffView
from ilrflow.tracker.adapters.repository import TrackerFilter
from ilrflow.tracker.domain.actors import Actor
from ilrflow.tracker.domain.ilr_state import programme_dates
from ilrflow.tracker.domain.permissions import (
    Decision,
    allocate,
    candidate_processors,
    check_qa_lock,
    may_allocate,
    may_be_allocated,
    may_cancel,
    may_edit,
    may_process,
    may_raise,
    may_reject,
    may_see_tracker,
    reads_whole_tenant,
    refusal,
    refuse,
)
from ilrflow.tracker.domain.policy import TenantTrackerSettings, TypeSettings
from ilrflow.tracker.domain.tracker import Tracker
from ilrflow.tracker.service.ports import TrackerProjections, TrackerStore

Clock = Callable[[], datetime]


def new_tracker_id() -> str:
    return "T" + secrets.token_hex(6).upper()


def idempotent_tracker_id(tenant: str, raised_by: str, idempotency_key: str) -> str:
    """The id a raise with this ``Idempotency-Key`` gets: the same for every retry of it, so the
    second insert meets the first (the key is scoped to the raiser, as clients choose keys)."""
    digest = hashlib.sha256(f"{tenant}\x1f{raised_by}\x1f{idempotency_key}".encode()).hexdigest()
    return "T" + digest[:12].upper()


def request_fingerprint(tracker_type: str, learner_id: str, changes: Any, note: str | None) -> str:
    """What a retry must repeat exactly for the same key to mean the same request."""
    request = {"type": tracker_type, "learner_id": learner_id, "changes": changes, "note": note}
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class RaiseResult(NamedTuple):
    tracker: Tracker
    replayed: bool


@dataclass(frozen=True)
class TrackersExport:
    """The trackers a caller exports, with the learners and staff the spreadsheet names."""

    trackers: list[Tracker]
    learners: dict[str, LearnerView | None]
    staff: dict[str, StaffView]


EXPORT_BATCH = 500


class IdempotencyKeyReusedError(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was used for a different request; use a new key.",
            code="idempotency_key_reused",
        )


class TrackerService:
    def __init__(
        self,
        trackers: TrackerStore,
        projections: TrackerProjections,
        events_written: Callable[[], None],
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.trackers = trackers
        self.projections = projections
        self._events_written = events_written
        self._clock = clock

    # --- settings -------------------------------------------------------------------------

    async def settings(self, principal: Principal) -> TenantTrackerSettings:
        settings, _ = await self.trackers.get_settings(principal.tenant)
        return settings

    async def update_settings(
        self, principal: Principal, change: Callable[[TenantTrackerSettings], TenantTrackerSettings]
    ) -> TenantTrackerSettings:
        settings, version = await self.trackers.get_current_settings(principal.tenant)
        try:
            updated = change(settings)
        except ValidationError as error:
            raise _settings_invalid(error) from error
        after = updated.model_dump(mode="json")
        changes = setting_changes(settings.model_dump(mode="json"), after)
        if not changes:
            return settings  # nothing to store, nothing to tell
        changed = TrackerSettingsChanged(version=version + 1, changes=changes, settings=after)
        event = new_event(
            changed, tenant=principal.tenant, subject=TRACKER_SETTINGS_SUBJECT, actor=principal.sub
        )
        if not await self.trackers.save_settings(principal.tenant, updated, version, [event]):
            raise Conflict("The settings changed meanwhile; try again.")
        self._events_written()
        return updated

    async def set_type_settings(
        self, principal: Principal, tracker_type: str, type_settings: TypeSettings
    ) -> TenantTrackerSettings:
        settings = await self.settings(principal)
        if settings.type_info(tracker_type) is None:
            raise NotFound.of("tracker type", tracker_type)
        return await self.update_settings(
            principal, lambda s: s.with_type_settings(tracker_type, type_settings)
        )

    async def define_custom_type(
        self,
        principal: Principal,
        definition: CustomTypeDefinition,
        type_settings: TypeSettings,
    ) -> TenantTrackerSettings:
        """Add or replace a tenant's own form, with its switch and roles, in one change."""
        type_name = custom_type_name(definition)
        return await self.update_settings(
            principal,
            lambda s: s.with_custom_type(definition).with_type_settings(type_name, type_settings),
        )

    # --- raising --------------------------------------------------------------------------

    async def raise_tracker(
        self,
        principal: Principal,
        tracker_type: str,
        learner_id: str,
        changes: dict[str, Any],
        note: str | None,
        idempotency_key: str | None = None,
    ) -> RaiseResult:
        """Raise a tracker. With an ``idempotency_key``, a retry of the same request returns the
        tracker the first one raised (``replayed``), and raises nothing new."""
        actor = Actor.of(principal)
        fingerprint = request_fingerprint(tracker_type, learner_id, changes, note)
        tracker_id = new_tracker_id()
        if idempotency_key is not None:
            tracker_id = idempotent_tracker_id(principal.tenant, actor.id, idempotency_key)
            earlier = await self._earlier_raise(principal.tenant, tracker_id, fingerprint)
            if earlier is not None:
                return RaiseResult(earlier, replayed=True)
        settings = await self.settings(principal)
        learner = await self._learner(principal, learner_id)
        info = settings.type_info(tracker_type)
        # Staff raising a learner-led type do it on the learner's behalf, and it is recorded so.
        on_behalf = actor.is_staff and info is not None and info.learner_led
        _allowed(
            may_raise(
                settings, actor, tracker_type, learner.group, on_behalf, learner_id=learner.id
            )
        )
        parsed = settings.parse_changes(tracker_type, changes)
        ilr = await self.projections.ilr_of(principal.tenant, learner.id)
        _check_programme(parsed, learner, ilr)
        allocated_to = allocate(settings, learner.group, tracker_type)
        await self._check_tutor(principal.tenant, parsed)
        candidates = candidate_processors(
            settings,
            await self.projections.staff_of_tenant(principal.tenant),
            tracker_type,
            learner.group,
            changes=parsed.model_dump(mode="json"),
            learner_id=learner.id,
            raised_by=actor.id,
            ilr_qa_verified=bool(ilr and ilr.qa_verified),
        )
        tracker, payloads = Tracker.raise_new(
            tracker_id=tracker_id,
            tenant=principal.tenant,
            learner_id=learner.id,
            learner_group=learner.group,
            tracker_type=tracker_type,
            changes=parsed,
            actor=actor,
            now=self._clock(),
            note=note,
            on_behalf_of_learner=on_behalf,
            allocated_to=allocated_to,
            candidate_processors=candidates,
            preview=await self._preview(ilr, learner, tracker_type, parsed, settings),
        )
        events = self._events(principal, tracker, payloads)
        if not await self.trackers.add(tracker, events, fingerprint if idempotency_key else None):
            # A concurrent retry with the same key inserted first: serve what it stored.
            earlier = await self._earlier_raise(principal.tenant, tracker_id, fingerprint)
            if earlier is None:
                raise TransientError(f"tracker {tracker_id} neither inserted nor found")
            return RaiseResult(earlier, replayed=True)
        self._events_written()
        return RaiseResult(tracker, replayed=False)

    async def _earlier_raise(
        self, tenant: str, tracker_id: str, fingerprint: str
    ) -> Tracker | None:
        found = await self.trackers.get_with_fingerprint(tenant, tracker_id)
        if found is None:
            return None
        tracker, stored_fingerprint = found
        if stored_fingerprint != fingerprint:
            raise IdempotencyKeyReusedError()
        return tracker

    async def _preview(
        self,
        ilr: IlrView | None,
        learner: LearnerView | None,
        tracker_type: str,
        parsed: ChangesModel,
        settings: TenantTrackerSettings,
    ) -> dict[str, Any] | None:
        """Computed values with their working, from the ILR engine fed by the ``ilr-state``
        projection and the platform's minimum OTJ table (the ``reference-data`` projection; 2025/26
        minimums are unknown until it is loaded); None until the learner's ILR has reached the
        projection."""
        if ilr is None or not ilr.learner:
            return None
        policy = IlrPolicy(
            material_impact_threshold_percent=settings.material_impact_threshold,
            withdrawal_reason_map=dict(settings.withdrawal_reason_map),
            otj_minimum_by_standard=await self.projections.otj_minimums(),
        )
        changes = parsed.model_dump(mode="json")
        previous = _previous_weekly_hours(tracker_type, learner)
        today = self._clock().date()
        shown = preview(
            ilr.learner, tracker_type, changes, policy, today=today, previous_weekly_hours=previous
        )
        return shown or None

    # --- reading --------------------------------------------------------------------------

    async def get(self, principal: Principal, tracker_id: str) -> Tracker:
        tracker = await self.trackers.get(principal.tenant, tracker_id)
        if tracker is None:
            raise NotFound.of("tracker", tracker_id)
        settings = await self.settings(principal)
        if not may_see_tracker(settings, Actor.of(principal), tracker):
            raise NotFound.of("tracker", tracker_id)
        return tracker

    async def list_trackers(
        self,
        principal: Principal,
        where: TrackerFilter,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Tracker]:
        settings = await self.settings(principal)
        actor = Actor.of(principal)
        if not actor.is_staff:
            scope = TrackerFilter(**{**where.__dict__, "visible_to_learner": actor.id})
        elif reads_whole_tenant(settings, actor):
            scope = where
        else:
            scope = TrackerFilter(**{**where.__dict__, "visible_groups": sorted(actor.groups)})
        return await self.trackers.find(principal.tenant, scope, after, limit)

    async def export(self, principal: Principal, where: TrackerFilter) -> TrackersExport:
        """Every tracker the caller may list under ``where``, newest first, without pages."""
        trackers: list[Tracker] = []
        after = None
        while True:
            batch = await self.list_trackers(principal, where, after, EXPORT_BATCH)
            trackers.extend(batch)
            if len(batch) < EXPORT_BATCH:
                break
            after = (batch[-1].raised_at, batch[-1].id)
        learners = {
            t.learner_id: await self.projections.learner(principal.tenant, t.learner_id)
            for t in trackers
        }
        staff = {s.id: s for s in await self.projections.staff_of_tenant(principal.tenant)}
        return TrackersExport(trackers, learners, staff)

    # --- workflow -------------------------------------------------------------------------

    async def actions(self, principal: Principal, tracker_id: str) -> dict[str, Decision]:
        """Whether the caller may allocate, edit, process and reject the tracker now, each with
        the reason when not: the checks the commands make, asked before a press (a stale version
        and a process date not yet reached are found only by trying)."""
        tracker = await self.get(principal, tracker_id)
        settings = await self.settings(principal)
        actor = Actor.of(principal)
        ilr = await self.projections.ilr_of(principal.tenant, tracker.learner_id)
        checks = {
            "allocate": may_allocate(settings, actor, tracker),
            "edit": may_edit(settings, actor, tracker),
            "process": _may_process_now(settings, actor, tracker, ilr),
            "reject": may_reject(settings, actor, tracker),
        }
        closed = refuse("closed", f"the tracker is already {tracker.status}")
        return {
            action: decision if tracker.allows(action) else closed
            for action, decision in checks.items()
        }

    async def allocate(
        self,
        principal: Principal,
        tracker_id: str,
        to: str,
        expected_version: int | None,
        reason: str | None = None,
    ) -> Tracker:
        async def act(
            tracker: Tracker, settings: TenantTrackerSettings, actor: Actor
        ) -> list[Payload]:
            _allowed(may_allocate(settings, actor, tracker))
            staff = await self.projections.staff_member(principal.tenant, to)
            if staff is None:
                raise InvalidInput(
                    f"No staff member {to!r} in this tenant.",
                    [FieldProblem(field="allocated_to", reason="unknown staff member")],
                )
            ilr = await self.projections.ilr_of(principal.tenant, tracker.learner_id)
            decision = may_be_allocated(
                settings,
                Actor.from_staff(staff),
                tracker,
                ilr_qa_verified=bool(ilr and ilr.qa_verified),
            )
            if not decision:
                raise InvalidInput(
                    f"{to} may not process it: {decision.reason}",
                    [FieldProblem(field="allocated_to", reason=decision.reason)],
                )
            return tracker.allocate(
                to, actor, self._clock(), expected_version=expected_version, reason=reason
            )

        return await self._act(principal, tracker_id, act)

    async def edit(
        self,
        principal: Principal,
        tracker_id: str,
        expected_version: int,
        changes: dict[str, Any] | None,
        note: str | None,
    ) -> Tracker:
        async def act(
            tracker: Tracker, settings: TenantTrackerSettings, actor: Actor
        ) -> list[Payload]:
            _allowed(may_edit(settings, actor, tracker))
            parsed = settings.parse_changes(
                tracker.tracker_type, changes if changes is not None else tracker.changes
            )
            ilr = await self.projections.ilr_of(principal.tenant, tracker.learner_id)
            learner = await self.projections.learner(principal.tenant, tracker.learner_id)
            _check_programme(parsed, learner, ilr)
            await self._check_tutor(principal.tenant, parsed)
            return tracker.edit(
                expected_version,
                parsed,
                actor,
                self._clock(),
                preview=await self._preview(ilr, learner, tracker.tracker_type, parsed, settings),
                note=note,
            )

        return await self._act(principal, tracker_id, act)

    async def override_planned_end_date(
        self,
        principal: Principal,
        tracker_id: str,
        expected_version: int,
        planned_end_date: date,
        reason: str,
    ) -> Tracker:
        """Replace the recalculated planned end date of a return (edit permission, a reason);
        the preview is worked out again so it shows the overridden date."""

        async def act(
            tracker: Tracker, settings: TenantTrackerSettings, actor: Actor
        ) -> list[Payload]:
            _allowed(may_edit(settings, actor, tracker))
            ilr = await self.projections.ilr_of(principal.tenant, tracker.learner_id)
            learner = await self.projections.learner(principal.tenant, tracker.learner_id)
            proposed = {
                **tracker.changes,
                "planned_end_date": planned_end_date.isoformat(),
                "override_reason": reason,
            }
            new_preview = None
            if tracker.tracker_type == "return_to_learning":
                parsed = settings.parse_changes(tracker.tracker_type, proposed)
                new_preview = await self._preview(
                    ilr, learner, tracker.tracker_type, parsed, settings
                )
            return tracker.override_planned_end_date(
                expected_version,
                planned_end_date,
                reason,
                actor,
                self._clock(),
                preview=new_preview,
            )

        return await self._act(principal, tracker_id, act)

    async def process(
        self, principal: Principal, tracker_id: str, expected_version: int | None
    ) -> Tracker:
        async def act(
            tracker: Tracker, settings: TenantTrackerSettings, actor: Actor
        ) -> list[Payload]:
            ilr = await self.projections.ilr_of(principal.tenant, tracker.learner_id)
            _allowed(_may_process_now(settings, actor, tracker, ilr))
            return tracker.process(actor, self._clock(), expected_version=expected_version)

        return await self._act(principal, tracker_id, act)

    async def reject(
        self, principal: Principal, tracker_id: str, reason: str, expected_version: int | None
    ) -> Tracker:
        async def act(
            tracker: Tracker, settings: TenantTrackerSettings, actor: Actor
        ) -> list[Payload]:
            _allowed(may_reject(settings, actor, tracker))
            return tracker.reject(reason, actor, self._clock(), expected_version=expected_version)

        return await self._act(principal, tracker_id, act)

    async def cancel(
        self,
        principal: Principal,
        tracker_id: str,
        reason: str | None,
        expected_version: int | None,
    ) -> Tracker:
        async def act(
            tracker: Tracker, settings: TenantTrackerSettings, actor: Actor
        ) -> list[Payload]:
            _allowed(may_cancel(settings, actor, tracker))
            return tracker.cancel(
                actor, self._clock(), reason=reason, expected_version=expected_version
            )

        return await self._act(principal, tracker_id, act)

    async def _act(self, principal: Principal, tracker_id: str, action: Any) -> Tracker:
        tracker = await self.get(principal, tracker_id)
        settings = await self.settings(principal)
        loaded_version = tracker.version
        payloads = await action(tracker, settings, Actor.of(principal))
        events = self._events(principal, tracker, payloads)
        if not await self.trackers.save(tracker, loaded_version, events):
            raise Conflict(
                "The tracker changed meanwhile; reload it and try again.",
                code="version_conflict",
                details={"current_version": (await self.get(principal, tracker_id)).version},
            )
        if events:
            self._events_written()
        return tracker

    def _events(
        self, principal: Principal, tracker: Tracker, payloads: list[Payload]
    ) -> list[Envelope[Any]]:
        return [
            new_event(
                payload,
                tenant=principal.tenant,
                subject=tracker.learner_id,
                actor=principal.sub,
                correlation_id=tracker.id,
            )
            for payload in payloads
        ]

    async def _check_tutor(self, tenant: str, parsed: ChangesModel) -> None:
        """A correction's new primary tutor is a tutor of the tenant, as at the learner's
        creation (the staff directory is the ``learner-updated`` projection)."""
        if not isinstance(parsed, Correction) or parsed.primary_tutor_id is None:
            return
        tutor = await self.projections.staff_member(tenant, parsed.primary_tutor_id)
        if tutor is None or not may_be_primary_tutor(tutor.roles):
            raise InvalidInput(
                f"primary_tutor_id {parsed.primary_tutor_id!r} is not a tutor of this tenant.",
                [FieldProblem(field="changes.primary_tutor_id", reason="unknown tutor")],
            )

    async def _learner(self, principal: Principal, learner_id: str) -> LearnerView:
        learner = await self.projections.learner(principal.tenant, learner_id)
        if learner is None:
            raise NotFound.of("learner", learner_id)
        return learner

    # --- consumers ------------------------------------------------------------------------

    async def on_learner_updated(self, event: Envelope[LearnerUpdated]) -> None:
        """A learner moved to another group (a correction): their trackers move with them, so
        whoever reads and acts on the learner reads and acts on their trackers (``visibility``).
        Setting the group again is harmless, so a redelivery needs no bookkeeping."""
        update = event.data
        if update.change != "changed" or "group" not in update.changed_fields:
            return
        await self.trackers.move_learner(event.tenant, update.learner.id, update.learner.group)

    async def on_ilr_updated(self, event: Envelope[IlrUpdated]) -> None:
        """Record the ILR outcome on the tracker that caused it, so nobody has to guess."""
        update = event.data
        if update.tracker_id is None:
            return
        tracker = await self.trackers.get(event.tenant, update.tracker_id)
        if tracker is None:
            return
        loaded_version = tracker.version
        tracker.record_ilr_outcome(
            update.outcome,
            update.reason,
            self._clock(),
            ilr_version=update.version,
            patch=[op.model_dump(mode="json") for op in update.patch],
        )
        if tracker.version == loaded_version:
            return  # the same outcome again: nothing to store
        stored = await self.trackers.save(tracker, loaded_version, [], applied_event_id=event.id)
        if not stored:
            raise TransientError("tracker changed concurrently; retrying")


def _allowed(decision: Decision) -> None:
    if not decision:
        raise refusal(decision)


def _may_process_now(
    settings: TenantTrackerSettings, actor: Actor, tracker: Tracker, ilr: IlrView | None
) -> Decision:
    """Process permission, two-person control, then the QA lock of a verified ILR."""
    decision = may_process(settings, actor, tracker)
    if not decision:
        return decision
    verified = bool(ilr and ilr.qa_verified)
    return check_qa_lock(settings, tracker.tracker_type, actor, verified, changes=tracker.changes)


def _check_programme(
    parsed: ChangesModel, learner: LearnerView | None, ilr: IlrView | None
) -> None:
    """Refuse dates that do not fit the programme as the learner's current ILR has it (where the
    current learning started, the break the learner is on); the enrolment stands in only while
    the ILR is not known or shows no programme in learning or on a break."""
    programme = programme_dates(ilr.learner if ilr else None) or _enrolled_dates(learner)
    if programme is None:
        return
    problems = check_against_programme(parsed, programme)
    if problems:
        raise InvalidInput(
            f"The change does not fit the learner's programme: {problems_summary(problems)}",
            problems,
        )


def _enrolled_dates(learner: LearnerView | None) -> ProgrammeDates | None:
    enrolled = learner.current_programme if learner else None
    if enrolled is None:
        return None
    return ProgrammeDates(started=enrolled.start_date, learning_started=enrolled.start_date)


HOURS_TYPES = frozenset({"change_of_employer", "change_of_working_hours"})


def _previous_weekly_hours(tracker_type: str, learner: LearnerView | None) -> float | None:
    """What the preview needs but the request does not carry: the weekly hours before the change
    (from the enrolment), so the material-impact check against the tenant's threshold and the
    OTJ minimum before the change can be shown."""
    programme = learner.current_programme if learner else None
    if tracker_type not in HOURS_TYPES or programme is None or not programme.weekly_hours:
        return None
    return programme.weekly_hours


def _settings_invalid(error: ValidationError) -> InvalidInput:
    problems = [
        FieldProblem(field=".".join(str(part) for part in e["loc"]) or "settings", reason=e["msg"])
        for e in error.errors()
    ]
    return InvalidInput(f"The settings are not valid: {problems_summary(problems)}", problems)
