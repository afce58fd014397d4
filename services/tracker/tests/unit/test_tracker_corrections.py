"""Corrections in the tracker service: the new primary tutor must be a tutor of the tenant, the
QA lock guards only the ILR fields, and a learner moved to another group takes their trackers
along (who reads and acts on them follows the learner)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from tracker_fakes import FakeProjections, FakeTrackerStore, tracker_service

from ilrflow.contracts.events import EventType, LearnerSnapshot, LearnerUpdated, new_event
from ilrflow.contracts.identity import Principal
from ilrflow.tracker.adapters.projections import IlrView, LearnerView, StaffView
from ilrflow.tracker.adapters.repository import TrackerFilter
from ilrflow.tracker.domain.policy import TenantTrackerSettings, TypeSettings
from ilrflow.tracker.service.use_cases import TrackerService

RefusalOf = Callable[[Awaitable[object]], Awaitable[Any]]  # the fixture in services/conftest.py
TENANT = "acme"
ADMIN = Principal(sub="admin-1", tenant=TENANT, roles=["admin"])
QA_ADMIN = Principal(sub="admin-qa", tenant=TENANT, roles=["admin", "ilr_qa"])
TUTOR_A = Principal(sub="tutor-a", tenant=TENANT, roles=["tutor"], groups=["group-a"])
TUTOR_B = Principal(sub="tutor-b", tenant=TENANT, roles=["tutor"], groups=["group-b"])
ADDRESS = {"address": {"lines": ["1 High Street", "Leeds"], "postcode": "LS1 1AA"}}
ULN = {"uln": "1000000043", "reason": "Typed wrongly at sign-up"}
MOVE = {"group": "group-b", "primary_tutor_id": "tutor-b", "reason": "Moved cohort"}


@pytest.fixture
def trackers() -> FakeTrackerStore:
    store = FakeTrackerStore()
    enabled = ("change_of_address", "correction")
    store.seed_settings(
        TENANT, TenantTrackerSettings(types={t: TypeSettings(enabled=True) for t in enabled})
    )
    return store


@pytest.fixture
def projections() -> FakeProjections:
    views = FakeProjections()
    views.learners[(TENANT, "L1")] = LearnerView("L1", "Ann Lee", "group-a", "tutor-a")
    for person in (ADMIN, QA_ADMIN, TUTOR_A, TUTOR_B):
        views.staff[(TENANT, person.sub)] = StaffView(
            person.sub, person.sub, f"{person.sub}@acme.test", person.roles, person.groups
        )
    return views


@pytest.fixture
def service(trackers: FakeTrackerStore, projections: FakeProjections) -> TrackerService:
    return tracker_service(trackers, projections)


async def _raise(
    service: TrackerService, changes: dict[str, Any], tracker_type: str = "correction"
) -> str:
    result = await service.raise_tracker(ADMIN, tracker_type, "L1", changes, None)
    return result.tracker.id


def _moved(group: str, changed_fields: tuple[str, ...] = ("group",)) -> Any:
    learner = LearnerSnapshot(
        id="L1", given_names="Ann", family_name="Lee", email="ann@example.org", group=group
    )
    payload = LearnerUpdated(change="changed", learner=learner, changed_fields=list(changed_fields))
    return new_event(payload, tenant=TENANT, subject="L1", actor="admin-1")


# --- the primary tutor -------------------------------------------------------------------------


async def test_a_correction_to_a_tutor_of_the_tenant_is_raised(
    service: TrackerService, trackers: FakeTrackerStore
) -> None:
    tracker_id = await _raise(service, MOVE)

    stored = await trackers.get(TENANT, tracker_id)
    assert stored is not None
    assert stored.changes["reason"] == "Moved cohort"  # in tracker-raised, so in the audit log
    assert trackers.outbox[-1].data.changes["primary_tutor_id"] == "tutor-b"


@pytest.mark.parametrize("tutor", ["nobody", "admin-1"])
async def test_a_primary_tutor_who_is_not_a_tutor_of_the_tenant_is_refused(
    service: TrackerService, trackers: FakeTrackerStore, refusal_of: RefusalOf, tutor: str
) -> None:
    refusal = await refusal_of(_raise(service, {**MOVE, "primary_tutor_id": tutor}))

    assert refusal.code == "validation_failed"
    assert refusal.error.problems == [
        {"field": "changes.primary_tutor_id", "reason": "unknown tutor"}
    ]
    assert trackers.outbox == []


async def test_an_edit_to_an_unknown_tutor_is_refused(
    service: TrackerService, refusal_of: RefusalOf
) -> None:
    tracker_id = await _raise(service, MOVE)

    refusal = await refusal_of(
        service.edit(ADMIN, tracker_id, 1, {**MOVE, "primary_tutor_id": "nobody"}, None)
    )

    assert refusal.code == "validation_failed"


# --- the QA lock -------------------------------------------------------------------------------


async def test_a_qa_verified_ilr_locks_corrections_of_ilr_fields_only(
    service: TrackerService,
    trackers: FakeTrackerStore,
    projections: FakeProjections,
    refusal_of: RefusalOf,
) -> None:
    projections.ilrs[(TENANT, "L1")] = IlrView(version=3, qa_verified=True, learner={})
    uln = await _raise(service, ULN)
    move = await _raise(service, MOVE)

    refusal = await refusal_of(service.process(ADMIN, uln, expected_version=None))
    moved = await service.process(ADMIN, move, expected_version=None)
    corrected = await service.process(QA_ADMIN, uln, expected_version=None)

    assert refusal.code == "qa_locked"
    assert (moved.status, corrected.status) == ("processed", "processed")
    raised = trackers.events_of_type(EventType.TRACKER_RAISED)
    assert [e.data.candidate_processors for e in raised] == [["admin-qa"], ["admin-1", "admin-qa"]]


# --- a learner moved to another group ----------------------------------------------------------


async def test_trackers_follow_the_learner_to_the_new_group(
    service: TrackerService, refusal_of: RefusalOf
) -> None:
    tracker_id = await _raise(service, ADDRESS, "change_of_address")
    assert await service.get(TUTOR_A, tracker_id)

    await service.on_learner_updated(_moved("group-b"))

    assert (await service.get(TUTOR_B, tracker_id)).learner_group == "group-b"
    assert (await refusal_of(service.get(TUTOR_A, tracker_id))).code == "not_found"
    listed = await service.list_trackers(TUTOR_B, TrackerFilter(), None, 50)
    assert [t.id for t in listed] == [tracker_id]
    assert await service.list_trackers(TUTOR_A, TrackerFilter(), None, 50) == []


async def test_a_save_racing_the_move_keeps_the_new_group(
    service: TrackerService, trackers: FakeTrackerStore
) -> None:
    tracker_id = await _raise(service, ADDRESS, "change_of_address")
    loaded = await trackers.get(TENANT, tracker_id)
    assert loaded is not None

    await service.on_learner_updated(_moved("group-b"))
    loaded.allocated_to = "admin-1"
    assert await trackers.save(loaded, loaded.version, [])

    stored = await trackers.get(TENANT, tracker_id)
    assert stored is not None
    assert (stored.learner_group, stored.allocated_to) == ("group-b", "admin-1")


async def test_other_learner_changes_leave_the_trackers_where_they_are(
    service: TrackerService, trackers: FakeTrackerStore
) -> None:
    tracker_id = await _raise(service, ADDRESS, "change_of_address")
    await service.on_learner_updated(_moved("group-b", changed_fields=("given_names",)))

    stored = await trackers.get(TENANT, tracker_id)
    assert stored is not None
    assert stored.learner_group == "group-a"
