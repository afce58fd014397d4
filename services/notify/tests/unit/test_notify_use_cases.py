"""The notify use cases through an in-memory repository: the recipient projection they keep
and the inbox they write for each tracker event, in milliseconds. The end-to-end tests prove
the wiring (Kafka, MongoDB, SMTP)."""

from __future__ import annotations

from typing import Any

import pytest
from notify_fakes import FakeNotifyStore, notify_service

from ilrflow.contracts.events import (
    EventType,
    LearnerSnapshot,
    LearnerUpdated,
    Payload,
    StaffUpdated,
    TrackerAllocated,
    TrackerCancelled,
    TrackerProcessed,
    TrackerRaised,
    TrackerRejected,
    new_event,
)
from ilrflow.contracts.identity import Principal
from ilrflow.notify.domain.model import TenantNotifySettings
from ilrflow.notify.service.use_cases import NotifyService

TENANT = "acme"
ADDRESS = {"address": {"lines": ["1 High Street"], "postcode": "LS1 4AP"}}
TRACKER = {"tracker_id": "T1", "learner_id": "L1", "tracker_type": "change_of_address"}


class Wakes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def store() -> FakeNotifyStore:
    return FakeNotifyStore()


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
async def service(store: FakeNotifyStore, wakes: Wakes) -> NotifyService:
    """Notify's projection fed, as in production, by learner-updated: two admins, a tutor and
    learner L1 (whose primary tutor is tutor-1)."""
    service = notify_service(store, wakes)
    for staff_id, role in (("admin-1", "admin"), ("admin-2", "admin"), ("tutor-1", "tutor")):
        staff = StaffUpdated(
            id=staff_id,
            name=staff_id.title(),
            email=f"{staff_id}@example.org",
            roles=[role],
            groups=[],
        )
        await service.on_staff_updated(_event(staff))
    learner = LearnerSnapshot(
        id="L1",
        given_names="Ann",
        family_name="Smith",
        email="ann@example.org",
        primary_tutor_id="tutor-1",
        group="cohort-a",
    )
    await service.on_learner_updated(_event(LearnerUpdated(change="created", learner=learner)))
    return service


def _event(payload: Payload) -> Any:
    return new_event(payload, tenant=TENANT, subject="L1", actor="someone")


def _raised(**fields: Any) -> Any:
    return _event(
        TrackerRaised(
            **TRACKER, changes=ADDRESS, raised_by="L1", raised_by_roles=["learner"], **fields
        )
    )


async def test_an_unallocated_tracker_tells_every_candidate_processor(
    service: NotifyService, store: FakeNotifyStore, wakes: Wakes
) -> None:
    await service.on_tracker_event(_raised(candidate_processors=["admin-1", "admin-2"]))

    assert store.sent_to("admin-1") == [("in_app", EventType.TRACKER_RAISED)]
    assert store.sent_to("admin-2") == [("in_app", EventType.TRACKER_RAISED)]
    assert wakes.count == 0  # no email: the tenant has not asked for admin emails


async def test_an_allocated_tracker_tells_its_admin_by_email_when_the_tenant_asks(
    service: NotifyService, store: FakeNotifyStore, wakes: Wakes
) -> None:
    store.settings[TENANT] = TenantNotifySettings(email_admins=True)

    await service.on_tracker_event(_raised(allocated_to="admin-2"))

    assert store.sent_to("admin-2") == [
        ("in_app", EventType.TRACKER_RAISED),
        ("email", EventType.TRACKER_RAISED),
    ]
    assert store.sent_to("admin-1") == []
    assert wakes.count == 1


async def test_an_allocation_tells_the_new_admin(
    service: NotifyService, store: FakeNotifyStore
) -> None:
    await service.on_tracker_event(
        _event(TrackerAllocated(**TRACKER, allocated_to="admin-1", allocated_by="admin-2"))
    )

    assert store.sent_to("admin-1") == [("in_app", EventType.TRACKER_ALLOCATED)]
    assert store.sent_to("admin-2") == []  # nobody is told of their own action


async def test_processing_tells_the_tutor_and_the_learner_by_both_channels(
    service: NotifyService, store: FakeNotifyStore, wakes: Wakes
) -> None:
    processed = TrackerProcessed(
        **TRACKER,
        changes=ADDRESS,
        processed_by="admin-1",
        processor_roles=["admin"],
        raised_by="L1",
        learner_led=True,
    )

    await service.on_tracker_event(_event(processed))

    both = [("in_app", EventType.TRACKER_PROCESSED), ("email", EventType.TRACKER_PROCESSED)]
    assert store.sent_to("tutor-1") == both
    assert store.sent_to("L1") == both
    assert [n.email_to for n in store.stored.values() if n.channel == "email"] == [
        "tutor-1@example.org",
        "ann@example.org",
    ]
    assert wakes.count == 1


async def test_a_rejection_tells_the_raiser_with_the_reason(
    service: NotifyService, store: FakeNotifyStore
) -> None:
    rejected = TrackerRejected(
        **TRACKER, reason="The postcode does not exist", rejected_by="admin-1", raised_by="L1"
    )

    await service.on_tracker_event(_event(rejected))

    assert store.sent_to("L1") == [
        ("in_app", EventType.TRACKER_REJECTED),
        ("email", EventType.TRACKER_REJECTED),
    ]
    assert all("The postcode does not exist" in n.body_text for n in store.stored.values())


async def test_a_cancellation_tells_the_allocated_admin_but_not_the_raiser_who_cancelled(
    service: NotifyService, store: FakeNotifyStore
) -> None:
    cancelled = TrackerCancelled(
        **TRACKER, cancelled_by="L1", raised_by="L1", allocated_to="admin-1"
    )

    await service.on_tracker_event(_event(cancelled))

    assert store.sent_to("admin-1") == [("in_app", EventType.TRACKER_CANCELLED)]
    assert store.sent_to("L1") == []


async def test_a_redelivered_event_adds_nothing_and_wakes_no_sender(
    service: NotifyService, store: FakeNotifyStore, wakes: Wakes
) -> None:
    store.settings[TENANT] = TenantNotifySettings(email_admins=True)
    event = _raised(allocated_to="admin-1")

    await service.on_tracker_event(event)
    await service.on_tracker_event(event)

    assert len(store.stored) == 2
    assert wakes.count == 1


async def test_a_learner_update_refreshes_the_recipient_projection(
    service: NotifyService, store: FakeNotifyStore
) -> None:
    moved = LearnerSnapshot(
        id="L1", given_names="Ann", family_name="Jones", email="ann.jones@example.org"
    )

    await service.on_learner_updated(_event(LearnerUpdated(change="changed", learner=moved)))

    directory = await store.directory(TENANT, ["L1"])
    assert directory.email_of("L1") == "ann.jones@example.org"
    assert directory.name_of("L1") == "Ann Jones"


# --- what was sent about a learner -------------------------------------------------------------


async def test_what_was_sent_about_a_learner_is_read_by_whoever_may_read_the_learner(
    service: NotifyService, refusal_of: Any
) -> None:
    await service.on_tracker_event(_raised(allocated_to="admin-2"))
    await service.on_tracker_event(
        _event(TrackerAllocated(**TRACKER, allocated_to="admin-1", allocated_by="admin-2"))
    )
    tutor = Principal(sub="tutor-1", tenant=TENANT, roles=["tutor"], groups=["cohort-a"])
    stranger = Principal(sub="tutor-9", tenant=TENANT, roles=["tutor"], groups=["cohort-b"])

    about = await service.about_learner(tutor, "L1", None, 10)
    refusal = await refusal_of(service.about_learner(stranger, "L1", None, 10))
    unknown = await refusal_of(service.about_learner(tutor, "L404", None, 10))

    assert {(d["recipient_id"], d["event_type"]) for d in about} == {
        ("admin-1", EventType.TRACKER_ALLOCATED),
        ("admin-2", EventType.TRACKER_RAISED),
    }
    assert (refusal.code, unknown.code) == ("not_found", "not_found")
