"""The tracker use cases through in-memory repositories: outcomes (what is stored, the events
in the outbox, the errors raised), in milliseconds. The end-to-end tests prove the wiring."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest
from tracker_fakes import FakeProjections, FakeTrackerStore, tracker_service

from ilrflow.contracts.events import (
    EmployerRef,
    Enrolment,
    EventType,
    IlrUpdated,
    LearnerSnapshot,
    new_event,
)
from ilrflow.contracts.identity import Principal
from ilrflow.ilr_engine import TrackerApplication, apply_tracker, learner_from_enrolment
from ilrflow.tracker.adapters.projections import IlrView, LearnerView, StaffView
from ilrflow.tracker.adapters.repository import TrackerFilter
from ilrflow.tracker.domain.policy import AllocationRule, TenantTrackerSettings, TypeSettings
from ilrflow.tracker.service.use_cases import TrackerService

RefusalOf = Callable[[Awaitable[object]], Awaitable[Any]]  # the fixture in services/conftest.py
TENANT = "acme"
LEARNER = Principal(sub="L1", tenant=TENANT, roles=["learner"])
OTHER_LEARNER = Principal(sub="L2", tenant=TENANT, roles=["learner"])
TUTOR = Principal(sub="tutor-1", tenant=TENANT, roles=["tutor"], groups=["group-a"])
ADMIN = Principal(sub="admin-1", tenant=TENANT, roles=["admin"], groups=["group-a"])
QA_ADMIN = Principal(sub="admin-qa", tenant=TENANT, roles=["admin", "ilr_qa"], groups=["group-a"])
ADDRESS = {"address": {"lines": ["1 High Street", "Leeds"], "postcode": "LS1 1AA"}}
BREAK = {
    "last_day_of_learning": "2025-02-20",
    "expected_return_date": "2025-06-01",
    "reason": "Illness",
}


def _staff(principal: Principal) -> StaffView:
    return StaffView(
        principal.sub,
        principal.sub,
        f"{principal.sub}@acme.test",
        principal.roles,
        principal.groups,
    )


@pytest.fixture
def trackers() -> FakeTrackerStore:
    store = FakeTrackerStore()
    settings = TenantTrackerSettings(
        types={t: TypeSettings(enabled=True) for t in ("change_of_address", "break_in_learning")}
    )
    store.seed_settings(TENANT, settings)
    return store


@pytest.fixture
def projections() -> FakeProjections:
    views = FakeProjections()
    for learner_id, group in (("L1", "group-a"), ("L2", "group-b")):
        views.learners[(TENANT, learner_id)] = LearnerView(learner_id, learner_id, group, None)
    for principal in (ADMIN, QA_ADMIN):
        views.staff[(TENANT, principal.sub)] = _staff(principal)
    return views


@pytest.fixture
def service(trackers: FakeTrackerStore, projections: FakeProjections) -> TrackerService:
    return tracker_service(trackers, projections)


async def _raise(service: TrackerService, by: Principal = LEARNER, **kwargs: Any) -> str:
    kwargs.setdefault("tracker_type", "change_of_address")
    kwargs.setdefault("learner_id", "L1")
    kwargs.setdefault("changes", ADDRESS)
    kwargs.setdefault("note", None)
    result = await service.raise_tracker(by, **kwargs)
    return result.tracker.id


# --- raise -------------------------------------------------------------------------------------


async def test_raising_stores_the_tracker_and_its_raised_event(
    service: TrackerService, trackers: FakeTrackerStore
) -> None:
    result = await service.raise_tracker(LEARNER, "change_of_address", "L1", ADDRESS, "moved")

    stored = await trackers.get(TENANT, result.tracker.id)
    assert stored is not None
    assert (stored.status, stored.version, stored.raised_by) == ("raised", 1, "L1")
    assert stored.changes["address"]["postcode"] == "LS1 1AA"
    [event] = trackers.outbox
    assert event.type == EventType.TRACKER_RAISED
    assert (event.tenant, event.subject, event.correlation_id) == (TENANT, "L1", stored.id)
    # Nobody is allocated: every admin who may process it is a candidate.
    assert event.data.candidate_processors == ["admin-1", "admin-qa"]
    assert result.replayed is False


async def test_an_allocation_rule_allocates_on_raise(
    service: TrackerService, trackers: FakeTrackerStore
) -> None:
    await service.update_settings(
        ADMIN,
        lambda s: s.model_copy(
            update={
                "allocation_rules": [AllocationRule(learner_group="group-a", admin_id="admin-1")]
            }
        ),
    )

    tracker_id = await _raise(service)

    stored = await trackers.get(TENANT, tracker_id)
    assert stored is not None
    assert (stored.status, stored.allocated_to) == ("allocated", "admin-1")


async def test_a_retry_with_the_same_idempotency_key_replays_the_first_raise(
    service: TrackerService, trackers: FakeTrackerStore
) -> None:
    first = await service.raise_tracker(LEARNER, "change_of_address", "L1", ADDRESS, None, "k1")
    again = await service.raise_tracker(LEARNER, "change_of_address", "L1", ADDRESS, None, "k1")

    assert again.replayed is True
    assert again.tracker.id == first.tracker.id
    assert len(trackers.outbox) == 1


async def test_the_same_key_for_another_request_is_refused(
    service: TrackerService, trackers: FakeTrackerStore, refusal_of: RefusalOf
) -> None:
    await service.raise_tracker(LEARNER, "change_of_address", "L1", ADDRESS, None, "k1")

    refusal = await refusal_of(
        service.raise_tracker(LEARNER, "change_of_address", "L1", ADDRESS, "other", "k1")
    )

    assert refusal.code == "idempotency_key_reused"
    assert len(trackers.outbox) == 1


async def test_a_disabled_type_cannot_be_raised(
    service: TrackerService, trackers: FakeTrackerStore, refusal_of: RefusalOf
) -> None:
    refusal = await refusal_of(_raise(service, tracker_type="change_of_name", changes={}))

    assert refusal.code == "type_disabled"
    assert trackers.outbox == []


async def test_a_learner_cannot_raise_for_another_learner(
    service: TrackerService, trackers: FakeTrackerStore, refusal_of: RefusalOf
) -> None:
    refusal = await refusal_of(_raise(service, by=OTHER_LEARNER, learner_id="L1"))

    assert refusal.code == "not_found"  # another learner is not visible: as if not there
    assert trackers.outbox == []


async def test_raising_for_an_unknown_learner_is_not_found(
    service: TrackerService, refusal_of: RefusalOf
) -> None:
    refusal = await refusal_of(_raise(service, by=ADMIN, learner_id="nobody"))

    assert refusal.code == "not_found"
    assert "nobody" in refusal.message


async def test_invalid_changes_are_refused_naming_the_field(
    service: TrackerService, trackers: FakeTrackerStore, refusal_of: RefusalOf
) -> None:
    refusal = await refusal_of(
        _raise(service, changes={"address": {"lines": [], "postcode": "not a postcode"}})
    )

    assert "postcode" in refusal.message
    assert trackers.outbox == []


# --- allocate ----------------------------------------------------------------------------------


async def test_allocating_moves_the_tracker_to_the_admin(
    service: TrackerService, trackers: FakeTrackerStore
) -> None:
    tracker_id = await _raise(service)

    allocated = await service.allocate(ADMIN, tracker_id, "admin-qa", expected_version=1)

    stored = await trackers.get(TENANT, tracker_id)
    assert stored == allocated
    assert (stored.status, stored.allocated_to, stored.version) == ("allocated", "admin-qa", 2)
    assert trackers.outbox[-1].type == EventType.TRACKER_ALLOCATED
    assert trackers.outbox[-1].data.allocated_to == "admin-qa"


async def test_allocating_to_someone_not_on_the_staff_is_refused(
    service: TrackerService, trackers: FakeTrackerStore, refusal_of: RefusalOf
) -> None:
    tracker_id = await _raise(service)

    refusal = await refusal_of(
        service.allocate(ADMIN, tracker_id, "stranger", expected_version=None)
    )

    assert "stranger" in refusal.message
    stored = await trackers.get(TENANT, tracker_id)
    assert stored is not None
    assert (stored.status, stored.version) == ("raised", 1)


async def test_a_stale_expected_version_is_a_conflict(
    service: TrackerService, trackers: FakeTrackerStore, refusal_of: RefusalOf
) -> None:
    tracker_id = await _raise(service)

    refusal = await refusal_of(service.allocate(ADMIN, tracker_id, "admin-1", expected_version=7))

    assert refusal.code == "version_conflict"
    assert len(trackers.outbox) == 1


async def test_a_save_that_loses_the_race_is_a_conflict_and_stores_nothing(
    service: TrackerService, trackers: FakeTrackerStore, refusal_of: RefusalOf
) -> None:
    tracker_id = await _raise(service)
    trackers.race_next_save(TENANT, tracker_id)

    refusal = await refusal_of(
        service.allocate(ADMIN, tracker_id, "admin-1", expected_version=None)
    )

    assert refusal.code == "version_conflict"
    stored = await trackers.get(TENANT, tracker_id)
    assert stored is not None
    assert (stored.status, stored.version) == ("raised", 2)  # the other writer's version
    assert [e.type for e in trackers.outbox] == [EventType.TRACKER_RAISED]


# --- process -----------------------------------------------------------------------------------


async def test_processing_closes_the_tracker_and_publishes_what_changed(
    service: TrackerService, trackers: FakeTrackerStore
) -> None:
    tracker_id = await _raise(service)

    processed = await service.process(ADMIN, tracker_id, expected_version=1)

    assert (processed.status, processed.decided_by, processed.version) == (
        "processed",
        "admin-1",
        2,
    )
    event = trackers.outbox[-1]
    assert event.type == EventType.TRACKER_PROCESSED
    assert event.data.changes == processed.changes
    assert (event.data.processed_by, event.data.learner_led) == ("admin-1", True)


async def test_a_tutor_may_not_process(
    service: TrackerService, trackers: FakeTrackerStore, refusal_of: RefusalOf
) -> None:
    tracker_id = await _raise(service)

    refusal = await refusal_of(service.process(TUTOR, tracker_id, expected_version=None))

    assert refusal.code == "forbidden"
    assert len(trackers.outbox) == 1


async def test_a_processed_tracker_cannot_be_processed_again(
    service: TrackerService, trackers: FakeTrackerStore, refusal_of: RefusalOf
) -> None:
    tracker_id = await _raise(service)
    await service.process(ADMIN, tracker_id, expected_version=None)

    refusal = await refusal_of(service.process(ADMIN, tracker_id, expected_version=None))

    assert refusal.code == "illegal_transition"
    assert len(trackers.events_of_type(EventType.TRACKER_PROCESSED)) == 1


async def test_the_qa_lock_needs_the_ilr_qa_role_for_a_programme_change(
    service: TrackerService,
    trackers: FakeTrackerStore,
    projections: FakeProjections,
    refusal_of: RefusalOf,
) -> None:
    projections.ilrs[(TENANT, "L1")] = IlrView(version=3, qa_verified=True, learner={})
    tracker_id = await _raise(service, by=ADMIN, tracker_type="break_in_learning", changes=BREAK)

    refusal = await refusal_of(service.process(ADMIN, tracker_id, expected_version=None))
    processed = await service.process(QA_ADMIN, tracker_id, expected_version=None)

    assert refusal.code == "qa_locked"
    assert processed.status == "processed"
    assert len(trackers.events_of_type(EventType.TRACKER_PROCESSED)) == 1


async def test_two_person_control_stops_the_raiser_processing(
    service: TrackerService, trackers: FakeTrackerStore, refusal_of: RefusalOf
) -> None:
    await service.update_settings(
        ADMIN, lambda s: s.model_copy(update={"two_person_control": True})
    )
    tracker_id = await _raise(service, by=ADMIN)

    refusal = await refusal_of(service.process(ADMIN, tracker_id, expected_version=None))

    assert refusal.code == "two_person_control"
    assert trackers.events_of_type(EventType.TRACKER_PROCESSED) == []


async def test_a_settings_change_is_an_event_with_each_setting_before_and_after(
    service: TrackerService, trackers: FakeTrackerStore
) -> None:
    await service.update_settings(
        ADMIN, lambda s: s.model_copy(update={"two_person_control": True})
    )
    await service.update_settings(
        ADMIN, lambda s: s.model_copy(update={"two_person_control": True})
    )  # the same again: nothing changes, nothing is told

    [event] = trackers.events_of_type(EventType.TRACKER_SETTINGS_CHANGED)
    assert (event.tenant, event.actor, event.subject) == (TENANT, ADMIN.sub, "tracker-settings")
    changes = [(c.path, c.before, c.after) for c in event.data.changes]
    assert changes == [("two_person_control", False, True)]
    assert event.data.settings["two_person_control"] is True


# --- what the caller may do, asked before acting ------------------------------------------------


async def test_actions_are_all_allowed_to_an_admin_on_an_open_tracker(
    service: TrackerService,
) -> None:
    tracker_id = await _raise(service)

    actions = await service.actions(ADMIN, tracker_id)

    assert {name: bool(d) for name, d in actions.items()} == {
        "allocate": True,
        "edit": True,
        "process": True,
        "reject": True,
    }


async def test_actions_give_the_reasons_the_commands_would_refuse_with(
    service: TrackerService, projections: FakeProjections
) -> None:
    await service.update_settings(
        ADMIN, lambda s: s.model_copy(update={"two_person_control": True})
    )
    raised_by_admin = await _raise(service, by=ADMIN)
    projections.ilrs[(TENANT, "L1")] = IlrView(version=3, qa_verified=True, learner={})
    locked = await _raise(service, by=QA_ADMIN, tracker_type="break_in_learning", changes=BREAK)

    by_the_raiser = await service.actions(ADMIN, raised_by_admin)
    by_a_tutor = await service.actions(TUTOR, raised_by_admin)
    without_qa = await service.actions(ADMIN, locked)

    assert by_the_raiser["process"].code == "two_person_control"
    assert by_the_raiser["reject"].allowed
    assert by_a_tutor["process"].code == "forbidden"
    assert "admin" in by_a_tutor["process"].reason
    assert without_qa["process"].code == "qa_locked"


async def test_a_decided_tracker_allows_nothing(service: TrackerService) -> None:
    tracker_id = await _raise(service)
    await service.process(ADMIN, tracker_id, expected_version=None)

    actions = await service.actions(ADMIN, tracker_id)

    assert {d.code for d in actions.values()} == {"closed"}
    assert actions["edit"].reason == "the tracker is already processed"


async def test_actions_on_another_learners_tracker_are_not_found(
    service: TrackerService, refusal_of: RefusalOf
) -> None:
    tracker_id = await _raise(service)

    refusal = await refusal_of(service.actions(OTHER_LEARNER, tracker_id))

    assert refusal.code == "not_found"


# --- reject and cancel -------------------------------------------------------------------------


async def test_rejecting_records_the_reason_for_the_raiser(
    service: TrackerService, trackers: FakeTrackerStore
) -> None:
    tracker_id = await _raise(service)

    rejected = await service.reject(ADMIN, tracker_id, "Postcode does not exist", None)

    assert (rejected.status, rejected.decision_reason) == ("rejected", "Postcode does not exist")
    event = trackers.outbox[-1]
    assert event.type == EventType.TRACKER_REJECTED
    assert (event.data.reason, event.data.raised_by) == ("Postcode does not exist", "L1")


async def test_a_rejection_needs_a_reason(
    service: TrackerService, trackers: FakeTrackerStore, refusal_of: RefusalOf
) -> None:
    tracker_id = await _raise(service)

    refusal = await refusal_of(service.reject(ADMIN, tracker_id, "  ", None))

    assert "reason" in refusal.message
    stored = await trackers.get(TENANT, tracker_id)
    assert stored is not None
    assert stored.status == "raised"


async def test_the_raiser_may_cancel_their_own_tracker(
    service: TrackerService, trackers: FakeTrackerStore
) -> None:
    tracker_id = await _raise(service)

    cancelled = await service.cancel(LEARNER, tracker_id, "raised by mistake", expected_version=1)

    assert (cancelled.status, cancelled.decided_by) == ("cancelled", "L1")
    assert trackers.outbox[-1].type == EventType.TRACKER_CANCELLED


async def test_a_tutor_who_did_not_raise_it_may_not_cancel(
    service: TrackerService, trackers: FakeTrackerStore, refusal_of: RefusalOf
) -> None:
    tracker_id = await _raise(service)

    refusal = await refusal_of(service.cancel(TUTOR, tracker_id, None, expected_version=None))

    assert refusal.code == "forbidden"
    assert trackers.events_of_type(EventType.TRACKER_CANCELLED) == []


# --- reading -----------------------------------------------------------------------------------


async def test_a_learner_sees_only_their_own_trackers(service: TrackerService) -> None:
    own = await _raise(service)
    await _raise(service, by=ADMIN, learner_id="L2")

    listed = await service.list_trackers(LEARNER, TrackerFilter(), after=None, limit=10)

    assert [t.id for t in listed] == [own]


async def test_another_learners_tracker_is_not_found(
    service: TrackerService, refusal_of: RefusalOf
) -> None:
    tracker_id = await _raise(service)

    refusal = await refusal_of(service.get(OTHER_LEARNER, tracker_id))

    assert refusal.code == "not_found"


# --- the ILR outcome ---------------------------------------------------------------------------


async def test_the_ilr_outcome_is_recorded_once_per_event(
    service: TrackerService, trackers: FakeTrackerStore
) -> None:
    tracker_id = await _raise(service)
    await service.process(ADMIN, tracker_id, expected_version=None)
    outcome = IlrUpdated(
        learner_id="L1",
        tenant=TENANT,
        tracker_id=tracker_id,
        cause="tracker",
        version=4,
        outcome="applied",
        reason="Address updated.",
    )
    event = new_event(outcome, tenant=TENANT, subject="L1", actor="ilr")

    await service.on_ilr_updated(event)
    await service.on_ilr_updated(event)

    stored = await trackers.get(TENANT, tracker_id)
    assert stored is not None
    assert stored.ilr_outcome is not None
    assert (stored.ilr_outcome.status, stored.ilr_outcome.ilr_version) == ("applied", 4)
    assert stored.version == 3  # raised, processed, outcome recorded: the redelivery added none


# --- the preview and the platform's minimum OTJ table ------------------------------------------


def _on_break_since_2025_26_start(standard_code: int) -> dict[str, Any]:
    """An ILR whose programme started 2025-09-01 on ``standard_code`` (2025/26 rules), on a break."""
    enrolment = Enrolment(
        id="E1",
        standard_code=standard_code,
        start_date=date(2025, 9, 1),
        planned_end_date=date(2026, 10, 30),
        employer=EmployerRef(ern="123456789", name="Acme Ltd"),
        weekly_hours=37.5,
        planned_otj_hours=300,
    )
    snapshot = LearnerSnapshot(
        id="L1", given_names="Ann", family_name="Smith", enrolments=[enrolment]
    )
    application = TrackerApplication(
        tracker_id="T0",
        tracker_type="break_in_learning",
        changes={
            **BREAK,
            "last_day_of_learning": "2025-12-19",
            "expected_return_date": "2026-01-05",
        },
        processor_roles=("admin",),
        qa_verified=False,
        today=date(2026, 1, 1),
    )
    return apply_tracker(learner_from_enrolment(snapshot, enrolment, None), application).record


@pytest.mark.parametrize(
    ("table", "minimum", "meets"),
    [
        (None, None, None),
        ({91: 278}, None, None),
        ({244: 370}, 370, False),
        ({244: 250}, 250, True),
    ],
)
async def test_the_return_preview_takes_the_minimum_from_the_loaded_table(
    trackers: FakeTrackerStore,
    projections: FakeProjections,
    service: TrackerService,
    table: dict[int, int] | None,
    minimum: int | None,
    meets: bool | None,
) -> None:
    trackers.seed_settings(
        TENANT, TenantTrackerSettings(types={"return_to_learning": TypeSettings(enabled=True)})
    )
    projections.ilrs[(TENANT, "L1")] = IlrView(1, False, _on_break_since_2025_26_start(244))
    projections.otj_minimum_table = table

    result = await service.raise_tracker(
        ADMIN, "return_to_learning", "L1", {"return_date": "2026-01-05"}, None
    )

    preview = result.tracker.preview
    assert preview is not None
    assert preview["minimum_otj_hours"]["value"] == minimum
    assert preview["planned_otj_meets_minimum"]["value"] == meets
    if minimum is None:
        assert "minimum unknown" in preview["minimum_otj_hours"]["working"]
