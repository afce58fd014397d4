"""Every notification rule: who is told, on which channels, and who is skipped and why."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ilrflow.contracts.events import (
    DocumentIssued,
    Envelope,
    IlrUpdated,
    Payload,
    TrackerAllocated,
    TrackerCancelled,
    TrackerProcessed,
    TrackerRaised,
    TrackerRejected,
    new_event,
)
from ilrflow.notify.domain import (
    Decision,
    LearnerContact,
    RecipientDirectory,
    StaffMember,
    TenantNotifySettings,
    decide,
    notification_id,
)

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)

STAFF = {
    "A1": StaffMember(id="A1", name="Alice Admin", email="alice@acme.test", roles=["admin"]),
    "A2": StaffMember(id="A2", name="Abdul Admin", email=None, roles=["admin"]),
    "A3": StaffMember(id="A3", name="Ada Admin", email="ada@acme.test", roles=["admin"]),
    "S1": StaffMember(id="S1", name="Tom Tutor", email="tom@acme.test", roles=["tutor"]),
}
LEARNERS = {
    "L1": LearnerContact(id="L1", name="Lee Learner", email="lee@x.test", primary_tutor_id="S1"),
    "L2": LearnerContact(id="L2", name="No Tutor", email=None, primary_tutor_id=None),
}


def directory(email_admins: bool = False, **changes: Any) -> RecipientDirectory:
    return RecipientDirectory(
        tenant="acme",
        staff=changes.get("staff", STAFF),
        learners=changes.get("learners", LEARNERS),
        settings=TenantNotifySettings(email_admins=email_admins),
    )


def event(data: Payload) -> Envelope[Any]:
    return new_event(data, tenant="acme", subject=getattr(data, "learner_id", "L1"), actor="X")


def raised(**overrides: Any) -> TrackerRaised:
    fields: dict[str, Any] = {
        "tracker_id": "T1",
        "learner_id": "L1",
        "tracker_type": "change_of_address",
        "changes": {},
        "raised_by": "L1",
        "raised_by_roles": ["learner"],
    }
    return TrackerRaised(**{**fields, **overrides})


def processed(**overrides: Any) -> TrackerProcessed:
    fields: dict[str, Any] = {
        "tracker_id": "T1",
        "learner_id": "L1",
        "tracker_type": "change_of_address",
        "changes": {},
        "processed_by": "A1",
        "processor_roles": ["admin"],
        "raised_by": "L1",
        "learner_led": True,
    }
    return TrackerProcessed(**{**fields, **overrides})


def rejected(**overrides: Any) -> TrackerRejected:
    fields: dict[str, Any] = {
        "tracker_id": "T1",
        "learner_id": "L1",
        "tracker_type": "withdrawal",
        "reason": "Wrong end date",
        "rejected_by": "A1",
        "raised_by": "S1",
    }
    return TrackerRejected(**{**fields, **overrides})


def cancelled(**overrides: Any) -> TrackerCancelled:
    fields: dict[str, Any] = {
        "tracker_id": "T1",
        "learner_id": "L1",
        "tracker_type": "change_of_address",
        "reason": "Raised by mistake",
        "cancelled_by": "L1",
        "raised_by": "L1",
        "allocated_to": "A1",
    }
    return TrackerCancelled(**{**fields, **overrides})


def sent(decision: Decision) -> set[tuple[str, str]]:
    return {(n.recipient_id, n.channel) for n in decision.notifications}


# --- tracker raised / allocated ----------------------------------------------------------------


def test_raised_and_allocated_tells_the_allocated_admin_in_app() -> None:
    decision = decide(
        event(raised(allocated_to="A1", candidate_processors=["A3"])), directory(), NOW
    )

    assert sent(decision) == {("A1", "in_app")}
    assert decision.notifications[0].email_to is None
    assert decision.notifications[0].subject == (
        "Tracker to process: change of address for Lee Learner"
    )


def test_raised_unallocated_tells_every_candidate_admin() -> None:
    candidates = ["A1", "A2", "A3", "A1"]

    decision = decide(event(raised(candidate_processors=candidates)), directory(), NOW)

    assert sent(decision) == {("A1", "in_app"), ("A2", "in_app"), ("A3", "in_app")}
    assert len(decision.notifications) == 3


def test_raised_unallocated_without_candidates_records_why_nobody_was_told() -> None:
    decision = decide(event(raised()), directory(), NOW)

    assert decision.notifications == []
    assert "no admin may process" in decision.skipped[0].reason


def test_a_tenant_can_email_admins_too_and_missing_addresses_are_recorded() -> None:
    decision = decide(event(raised(candidate_processors=["A1", "A2"])), directory(True), NOW)

    assert sent(decision) == {("A1", "in_app"), ("A1", "email"), ("A2", "in_app")}
    email = next(n for n in decision.notifications if n.channel == "email")
    assert email.email_to == "alice@acme.test"
    assert [(s.recipient_id, s.channel) for s in decision.skipped] == [("A2", "email")]


def test_reallocation_tells_the_new_admin() -> None:
    allocated = TrackerAllocated(
        tracker_id="T1",
        learner_id="L1",
        tracker_type="withdrawal",
        allocated_to="A3",
        previously_allocated_to="A1",
        allocated_by="A1",
    )

    decision = decide(event(allocated), directory(), NOW)

    assert sent(decision) == {("A3", "in_app")}
    assert "has been allocated to you" in decision.notifications[0].body_text


def test_nobody_is_told_about_their_own_action() -> None:
    self_allocated = TrackerAllocated(
        tracker_id="T1", learner_id="L1", tracker_type="withdrawal", allocated_to="A1",
        allocated_by="A1",
    )  # fmt: skip

    decision = decide(event(self_allocated), directory(), NOW)

    assert decision.notifications == []
    assert decision.skipped[0].reason == "A1 did this themselves"


# --- tracker processed -------------------------------------------------------------------------


def test_processed_learner_led_tells_exactly_the_tutor_and_the_learner_on_both_channels() -> None:
    decision = decide(event(processed()), directory(), NOW)

    assert sent(decision) == {
        ("S1", "in_app"),
        ("S1", "email"),
        ("L1", "in_app"),
        ("L1", "email"),
    }
    assert len(decision.notifications) == 4
    by_key = {(n.recipient_id, n.channel): n for n in decision.notifications}
    assert by_key["S1", "email"].email_to == "tom@acme.test"
    assert by_key["L1", "email"].email_to == "lee@x.test"
    assert "processed by Alice Admin" in by_key["S1", "in_app"].body_text
    assert by_key["L1", "in_app"].subject == "Your change of address request has been processed"
    assert decision.skipped == []


def test_processed_staff_led_tells_only_the_tutor() -> None:
    decision = decide(event(processed(learner_led=False, raised_by="S1")), directory(), NOW)

    assert sent(decision) == {("S1", "in_app"), ("S1", "email")}


def test_processed_for_a_learner_without_a_tutor_skips_the_tutor_with_a_reason() -> None:
    decision = decide(event(processed(learner_id="L2", learner_led=False)), directory(), NOW)

    assert decision.notifications == []
    assert decision.skipped[0].reason == "learner L2 has no primary tutor"


def test_processed_for_a_learner_missing_from_the_projection_skips_the_tutor() -> None:
    decision = decide(event(processed(learner_id="L9")), directory(), NOW)

    assert sent(decision) == {("L9", "in_app")}  # in-app needs only the learner's id
    reasons = [s.reason for s in decision.skipped]
    assert reasons == [
        "learner L9 is not in the projection: primary tutor unknown",
        "no email address known for L9",
    ]


def test_processed_by_the_tutor_themselves_does_not_tell_the_tutor() -> None:
    decision = decide(event(processed(processed_by="S1", learner_led=False)), directory(), NOW)

    assert decision.notifications == []
    assert {s.channel for s in decision.skipped} == {"in_app", "email"}


# --- tracker rejected --------------------------------------------------------------------------


def test_rejected_tells_the_raiser_in_app_and_by_email_with_the_reason() -> None:
    decision = decide(event(rejected()), directory(), NOW)

    assert sent(decision) == {("S1", "in_app"), ("S1", "email")}
    assert all("Reason: Wrong end date" in n.body_text for n in decision.notifications)
    assert all("Wrong end date" in n.body_html for n in decision.notifications)


def test_rejected_raiser_without_an_email_gets_in_app_only() -> None:
    decision = decide(event(rejected(raised_by="L2")), directory(), NOW)

    assert sent(decision) == {("L2", "in_app")}
    assert decision.skipped[0].reason == "no email address known for L2"


# --- tracker cancelled -------------------------------------------------------------------------


def test_cancelled_by_its_raiser_tells_the_allocated_admin_only() -> None:
    decision = decide(event(cancelled()), directory(), NOW)

    assert sent(decision) == {("A1", "in_app")}
    assert "cancelled by Lee Learner" in decision.notifications[0].body_text
    assert "Reason: Raised by mistake" in decision.notifications[0].body_text
    assert decision.notifications[0].subject == "Cancelled: change of address for Lee Learner"


def test_cancelled_by_an_admin_tells_the_raiser_by_both_channels() -> None:
    decision = decide(event(cancelled(cancelled_by="A1", raised_by="S1")), directory(), NOW)

    assert sent(decision) == {("S1", "in_app"), ("S1", "email")}
    assert any(s.recipient_id == "A1" for s in decision.skipped)


def test_cancelled_tells_allocated_admin_and_raiser_with_admin_email_on() -> None:
    decision = decide(
        event(cancelled(cancelled_by="A3", raised_by="S1", allocated_to="A1", reason=None)),
        directory(email_admins=True),
        NOW,
    )

    assert sent(decision) == {("A1", "in_app"), ("A1", "email"), ("S1", "in_app"), ("S1", "email")}
    assert all("Reason: none given" in n.body_text for n in decision.notifications)


# --- a new training plan version --------------------------------------------------------------


def issued(**overrides: Any) -> DocumentIssued:
    fields: dict[str, Any] = {
        "learner_id": "L1",
        "document_id": "v2",
        "version": 2,
        "title": "Training plan",
        "changed_fields": ["planned_end_date"],
        "tracker_id": "T1",
        "pdf_sha256": "0" * 64,
    }
    return DocumentIssued(**{**fields, **overrides})


def test_a_version_made_by_a_tracker_tells_the_tutor_it_awaits_signature() -> None:
    decision = decide(event(issued()), directory(), NOW)

    assert sent(decision) == {("S1", "in_app"), ("S1", "email")}
    message = decision.notifications[0]
    assert message.subject == "To sign: training plan v2 for Lee Learner"
    assert "Processing tracker T1 changed the training plan" in message.body_text
    assert "(planned end date)" in message.body_text
    assert "awaits signature by the learner and the employer" in message.body_text
    assert (message.tracker_id, message.learner_id) == ("T1", "L1")


def test_the_version_made_at_enrolment_tells_nobody() -> None:
    assert decide(event(issued(tracker_id=None, version=1)), directory(), NOW) == Decision()


def test_a_new_version_for_a_learner_without_a_tutor_says_why_nobody_was_told() -> None:
    decision = decide(event(issued(learner_id="L2")), directory(), NOW)

    assert decision.notifications == []
    assert decision.skipped[0].reason == "learner L2 has no primary tutor"


# --- nothing else ------------------------------------------------------------------------------


def test_other_events_tell_nobody() -> None:
    ilr = IlrUpdated(learner_id="L1", cause="tracker", version=2, outcome="applied", reason="x")

    assert decide(event(ilr), directory(), NOW) == Decision()


def test_a_directory_of_another_tenant_is_refused() -> None:
    other = RecipientDirectory(tenant="other")

    with pytest.raises(ValueError, match="tenant"):
        decide(event(processed()), other, NOW)


# --- the notification itself -------------------------------------------------------------------


def test_notifications_carry_their_event_and_a_deterministic_id() -> None:
    the_event = event(processed())

    first = decide(the_event, directory(), NOW)
    again = decide(the_event, directory(), datetime(2027, 1, 1, tzinfo=UTC))

    assert [n.id for n in first.notifications] == [n.id for n in again.notifications]
    tutor_email = next(
        n for n in first.notifications if n.recipient_id == "S1" and n.channel == "email"
    )
    assert tutor_email.id == notification_id(the_event.id, "S1", "email")
    assert (tutor_email.tenant, tutor_email.tracker_id, tutor_email.learner_id) == (
        "acme",
        "T1",
        "L1",
    )
    assert (tutor_email.event_id, tutor_email.event_type) == (the_event.id, the_event.type)
    assert tutor_email.created_at == NOW


def test_ids_differ_by_event_recipient_and_channel() -> None:
    ids = {
        notification_id("E1", "S1", "email"),
        notification_id("E1", "S1", "in_app"),
        notification_id("E1", "S2", "email"),
        notification_id("E2", "S1", "email"),
    }

    assert len(ids) == 4
    assert all(len(i) == 32 for i in ids)
