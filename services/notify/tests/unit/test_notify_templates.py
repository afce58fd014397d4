"""Templates: HTML escaped, text left readable, subjects kept on one line."""

from __future__ import annotations

from datetime import UTC, datetime

from ilrflow.contracts.events import LearnerSnapshot, StaffUpdated, TrackerRejected, new_event
from ilrflow.notify.domain import (
    LearnerContact,
    RecipientDirectory,
    StaffMember,
    decide,
    learner_contact_from,
    staff_member_from,
)
from ilrflow.notify.domain.templates import TRACKER_REJECTED_FOR_RAISER

NOW = datetime(2026, 1, 5, tzinfo=UTC)


def test_html_bodies_escape_every_value_and_text_bodies_keep_them() -> None:
    message = TRACKER_REJECTED_FOR_RAISER.render(
        greeting="Hello <b>Bob</b>",
        tracker_type="change of name",
        tracker_id='T"1',
        learner="O'Neil & <script>alert(1)</script>",
        rejected_by="A1",
        reason="<img src=x onerror=alert(1)>",
    )

    assert "<script>" not in message.body_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.body_html
    assert "O&#x27;Neil &amp;" in message.body_html
    assert "&lt;img src=x onerror=alert(1)&gt;" in message.body_html
    assert "T&quot;1" in message.body_html
    assert "<img" not in message.body_html
    assert "O'Neil & <script>alert(1)</script>" in message.body_text
    assert message.body_html.startswith("<!doctype html>")


def test_subject_cannot_smuggle_an_email_header() -> None:
    message = TRACKER_REJECTED_FOR_RAISER.render(
        greeting="Hello",
        tracker_type="withdrawal",
        tracker_id="T1",
        learner="Eve\r\nBcc: everyone@example.com",
        rejected_by="A1",
        reason="x",
    )

    assert "\r" not in message.subject
    assert "\n" not in message.subject


def test_names_from_the_projection_are_escaped_in_real_notifications() -> None:
    directory = RecipientDirectory(
        tenant="acme",
        staff={"S1": StaffMember(id="S1", name="<Tom>", email="t@x.test")},
        learners={"L1": LearnerContact(id="L1", name="Ann & Co")},
    )
    rejection = TrackerRejected(
        tracker_id="T1",
        learner_id="L1",
        tracker_type="withdrawal",
        reason="Dates <wrong>",
        rejected_by="A1",
        raised_by="S1",
    )

    decision = decide(new_event(rejection, tenant="acme", subject="L1", actor="A1"), directory, NOW)

    html = decision.notifications[0].body_html
    assert "Hello &lt;Tom&gt;" in html
    assert "Ann &amp; Co" in html
    assert "Dates &lt;wrong&gt;" in html


def test_projection_is_fed_from_learner_service_events() -> None:
    snapshot = LearnerSnapshot(
        id="L1", given_names="Ann", family_name="Lee", email="a@x.test", primary_tutor_id="S1"
    )
    staff = StaffUpdated(id="S1", name="Tom", email="t@x.test", roles=["tutor"], groups=["g1"])

    assert learner_contact_from(snapshot) == LearnerContact(
        id="L1", name="Ann Lee", email="a@x.test", primary_tutor_id="S1"
    )
    assert staff_member_from(staff) == StaffMember(
        id="S1", name="Tom", email="t@x.test", roles=["tutor"], groups=["g1"]
    )
