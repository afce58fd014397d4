"""The learner use cases through an in-memory repository: what is stored, the events in the
outbox and the refusals, in milliseconds. The end-to-end tests prove the wiring."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest
from learner_fakes import FakeLearnerStore, learner_service

from ilrflow.contracts.errors import InvalidInput
from ilrflow.contracts.events import Employment, EventType, TrackerProcessed, new_event
from ilrflow.contracts.identity import Principal
from ilrflow.learner.domain.listing import LearnerFilter
from ilrflow.learner.domain.model import EnrolmentIn, LearnerIn, StaffIn
from ilrflow.learner.service.use_cases import LearnerService

RefusalOf = Callable[[Awaitable[object]], Awaitable[Any]]  # the fixture in services/conftest.py
TENANT = "acme"
ADMIN = Principal(sub="admin-1", tenant=TENANT, roles=["admin"])
TUTOR_A = Principal(sub="tutor-a", tenant=TENANT, roles=["tutor"], groups=["cohort-a"])
TUTOR_B = Principal(sub="tutor-b", tenant=TENANT, roles=["tutor"], groups=["cohort-b"])
NEW_LEARNER = {
    "given_names": "Alice",
    "family_name": "Walker",
    "email": "alice@example.org",
    "date_of_birth": "2004-05-17",
    "uln": "9276308686",
    "address": {"lines": ["1 High Street", "Leeds"], "postcode": "LS1 4AP"},
    "group": "cohort-a",
    "sex": "F",
    "ethnicity": 31,
    "lldd_health_problem": 1,
    "lldd_categories": [4, 12],
    "primary_lldd": 12,
    "prior_attainment": 3,
}
ENROLMENT = EnrolmentIn.model_validate(
    {
        "standard_code": 91,
        "start_date": "2025-09-01",
        "planned_end_date": "2027-03-01",
        "employer": {"ern": "123456789", "name": "Acme Ltd"},
        "weekly_hours": 30,
        "planned_otj_hours": 300,
        "price": {"training": 9000, "assessment": 1000},
        "employment": {"length_of_employment": 4, "small_employer": True},
        "agreement_id": "A1B2C3",
    }
)
NEW_ADDRESS = {"address": {"lines": ["2 Park Row", "Leeds"], "postcode": "LS1 5AB"}}


@pytest.fixture
def store() -> FakeLearnerStore:
    return FakeLearnerStore()


@pytest.fixture
def service(store: FakeLearnerStore) -> LearnerService:
    return learner_service(store)


async def _create(service: LearnerService, **fields: Any) -> str:
    learner = await service.create_learner(ADMIN, LearnerIn.model_validate(NEW_LEARNER | fields))
    return learner.id


def _processed(
    learner_id: str, changes: dict[str, Any], tracker_type: str = "change_of_address"
) -> Any:
    tracker = TrackerProcessed(
        tracker_id="T1",
        learner_id=learner_id,
        tracker_type=tracker_type,
        changes=changes,
        processed_by="admin-1",
        processor_roles=["admin"],
        raised_by=learner_id,
        learner_led=True,
    )
    return new_event(tracker, tenant=TENANT, subject=learner_id, actor="admin-1")


# --- staff -------------------------------------------------------------------------------------


async def test_registering_staff_publishes_them(
    service: LearnerService, store: FakeLearnerStore
) -> None:
    data = StaffIn(id="tutor-a", name="Tia", email="tia@example.org", roles=["tutor"])

    await service.register_staff(ADMIN, data)

    assert await store.get_staff(TENANT, "tutor-a") is not None
    [event] = store.outbox
    assert (event.type, event.data.id, event.data.roles) == (
        EventType.STAFF_UPDATED,
        "tutor-a",
        ["tutor"],
    )


async def test_a_staff_id_is_registered_once(
    service: LearnerService, store: FakeLearnerStore, refusal_of: RefusalOf
) -> None:
    data = StaffIn(id="tutor-a", name="Tia", email="tia@example.org", roles=["tutor"])
    await service.register_staff(ADMIN, data)

    refusal = await refusal_of(service.register_staff(ADMIN, data))

    assert refusal.code == "conflict"
    assert "tutor-a" in refusal.message
    assert len(store.outbox) == 1


# --- create ------------------------------------------------------------------------------------


async def test_creating_a_learner_stores_and_publishes_the_record(
    service: LearnerService, store: FakeLearnerStore
) -> None:
    learner_id = await _create(service)

    found = await store.get_learner(TENANT, learner_id)
    assert found is not None
    assert (found[0].family_name, found[0].group, found[1]) == ("Walker", "cohort-a", 1)
    [event] = store.outbox
    assert (event.type, event.data.change, event.subject) == (
        EventType.LEARNER_UPDATED,
        "created",
        learner_id,
    )
    assert event.data.learner == found[0]
    learner = event.data.learner
    assert (learner.sex, learner.ethnicity, learner.lldd_health_problem) == ("F", 31, 1)
    assert (learner.lldd_categories, learner.primary_lldd) == ([4, 12], 12)
    assert learner.prior_attainment == 3


async def test_the_primary_tutor_must_be_a_tutor_of_the_tenant(
    service: LearnerService, store: FakeLearnerStore, refusal_of: RefusalOf
) -> None:
    refusal = await refusal_of(_create(service, primary_tutor_id="nobody"))

    assert refusal.code == "validation_failed"
    assert "primary_tutor_id" in refusal.message
    assert store.outbox == []


# --- enrol (the update) ------------------------------------------------------------------------


async def test_enrolling_adds_the_enrolment_and_a_new_version(
    service: LearnerService, store: FakeLearnerStore
) -> None:
    learner_id = await _create(service)

    enrolled = await service.enrol(TUTOR_A, learner_id, ENROLMENT)

    [enrolment] = enrolled.enrolments
    assert store.version_of(TENANT, learner_id) == 2
    event = store.outbox[-1]
    assert (event.data.change, event.data.enrolment_id) == ("enrolled", enrolment.id)
    published = event.data.learner.enrolments[0]
    assert published.standard_code == 91
    assert (published.price.training, published.price.assessment) == (9000, 1000)  # type: ignore[union-attr]
    assert published.employment == Employment(
        date_from=date(2025, 8, 31), length_of_employment=4, small_employer=True
    )
    assert (published.agreement_id, published.delivery_postcode) == ("A1B2C3", None)


async def test_an_enrolment_that_breaks_esfa_rules_is_refused_with_the_rules_named(
    service: LearnerService, store: FakeLearnerStore, refusal_of: RefusalOf
) -> None:
    learner_id = await _create(service)
    too_short = ENROLMENT.model_copy(
        update={"planned_end_date": date(2026, 3, 1), "planned_otj_hours": 150}
    )

    refusal = await refusal_of(service.enrol(TUTOR_A, learner_id, too_short))

    assert refusal.code == "ilr_rule"
    assert isinstance(refusal.error, InvalidInput)
    assert [(p["field"], p["reason"].split(":")[0]) for p in refusal.error.problems] == [
        ("planned_end_date", "DateOfBirth_57"),
        ("planned_otj_hours", "PHours_08"),
    ]
    assert store.version_of(TENANT, learner_id) == 1  # nothing stored, nothing published


async def test_a_tutor_of_another_group_cannot_see_or_enrol_the_learner(
    service: LearnerService, store: FakeLearnerStore, refusal_of: RefusalOf
) -> None:
    learner_id = await _create(service)

    refusal = await refusal_of(service.enrol(TUTOR_B, learner_id, ENROLMENT))

    assert refusal.code == "not_found"
    assert store.version_of(TENANT, learner_id) == 1


async def test_a_learner_lists_only_themselves(service: LearnerService) -> None:
    learner_id = await _create(service)
    await _create(service, given_names="Bob")
    learner = Principal(sub=learner_id, tenant=TENANT, roles=["learner"])

    listed = await service.list_learners(learner, LearnerFilter(), None, 50)

    assert [x.id for x in listed] == [learner_id]


async def test_a_tutor_lists_their_groups_learners(service: LearnerService) -> None:
    in_group = await _create(service)
    await _create(service, group="cohort-b")

    listed = await service.list_learners(TUTOR_A, LearnerFilter(), None, 50)

    assert [x.id for x in listed] == [in_group]


# --- apply a processed tracker -----------------------------------------------------------------


async def test_a_processed_tracker_changes_the_record_and_says_so(
    service: LearnerService, store: FakeLearnerStore
) -> None:
    learner_id = await _create(service)
    event = _processed(learner_id, NEW_ADDRESS)

    await service.on_tracker_processed(event)

    found = await store.get_learner(TENANT, learner_id)
    assert found is not None
    assert found[0].address is not None
    assert found[0].address.postcode == "LS1 5AB"
    changed = store.outbox[-1]
    assert (changed.data.change, changed.data.changed_fields) == ("changed", ["address"])
    assert (changed.data.tracker_id, changed.causation_id) == ("T1", event.id)


async def test_a_redelivered_tracker_is_applied_once(
    service: LearnerService, store: FakeLearnerStore
) -> None:
    learner_id = await _create(service)
    event = _processed(learner_id, NEW_ADDRESS)

    await service.on_tracker_processed(event)
    await service.on_tracker_processed(event)

    assert store.version_of(TENANT, learner_id) == 2
    assert [e.data.change for e in store.outbox] == ["created", "changed"]


async def test_a_tracker_that_changes_nothing_publishes_nothing_but_is_remembered(
    service: LearnerService, store: FakeLearnerStore
) -> None:
    learner_id = await _create(service)
    event = _processed(learner_id, {"address": NEW_LEARNER["address"]})

    await service.on_tracker_processed(event)

    assert store.version_of(TENANT, learner_id) == 1
    assert len(store.outbox) == 1
    assert store.has_applied(TENANT, learner_id, event.id)


async def test_a_tracker_for_an_unknown_learner_is_dropped(
    service: LearnerService, store: FakeLearnerStore
) -> None:
    await service.on_tracker_processed(_processed("nobody", NEW_ADDRESS))

    assert store.outbox == []


async def test_a_correction_changes_every_field_it_names_and_says_which(
    service: LearnerService, store: FakeLearnerStore
) -> None:
    learner_id = await _create(service)
    corrected = {
        "uln": "1000000043",
        "date_of_birth": "2003-11-02",
        "sex": "M",
        "ethnicity": 39,
        "group": "cohort-b",
        "primary_tutor_id": "tutor-b",
    }
    event = _processed(learner_id, {**corrected, "reason": "Typed at sign-up"}, "correction")

    await service.on_tracker_processed(event)

    found = await store.get_learner(TENANT, learner_id)
    assert found is not None
    learner = found[0]
    assert learner.uln == "1000000043"
    assert learner.date_of_birth == date(2003, 11, 2)
    assert (learner.sex, learner.ethnicity) == ("M", 39)
    assert (learner.group, learner.primary_tutor_id) == ("cohort-b", "tutor-b")
    changed = store.outbox[-1].data
    assert changed.change == "changed"
    assert sorted(changed.changed_fields) == sorted(corrected)
    assert changed.learner.group == "cohort-b"


async def test_a_correction_leaves_the_fields_it_does_not_name(
    service: LearnerService, store: FakeLearnerStore
) -> None:
    learner_id = await _create(service)
    event = _processed(learner_id, {"group": "cohort-b", "reason": "Moved cohort"}, "correction")

    await service.on_tracker_processed(event)

    found = await store.get_learner(TENANT, learner_id)
    assert found is not None
    assert (found[0].group, found[0].uln, found[0].sex) == ("cohort-b", "9276308686", "F")
    assert store.outbox[-1].data.changed_fields == ["group"]
