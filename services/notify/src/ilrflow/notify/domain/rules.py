"""Who is told what, for each event. Pure: the caller supplies the projection and the clock.

- tracker raised: the allocated admin, or when nobody is allocated every candidate processor;
  tracker allocated: the newly allocated admin. In-app, plus email when the tenant asks for it.
- tracker processed: the learner's primary tutor (in-app and email) and, for learner-led types,
  the learner (in-app and email).
- tracker rejected: whoever raised it (in-app, and email when their address is known), with the
  reason.
- tracker cancelled: the admin it was allocated to (their queue no longer holds it; in-app, plus
  email when the tenant asks for it) and whoever raised it, unless they cancelled it themselves.
- a new training plan version made by a processed tracker: the learner's primary tutor (in-app
  and email), told that it awaits signature. A version made at enrolment: nobody.
- anything else (edits, learner and ILR updates): nobody.

In-app needs only the recipient's id; email needs an address from the projection. Anyone a rule
would have told but could not, and anyone who did the thing themselves, is returned in
``skipped`` with the reason, so the delivery log can answer "why was I not told?".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ilrflow.contracts.events import (
    DocumentIssued,
    Envelope,
    TrackerAllocated,
    TrackerCancelled,
    TrackerProcessed,
    TrackerRaised,
    TrackerRejected,
)
from ilrflow.notify.domain.model import (
    Channel,
    Decision,
    Notification,
    RecipientDirectory,
    Skipped,
    notification_id,
)
from ilrflow.notify.domain.templates import (
    DOCUMENT_AWAITS_SIGNATURE_FOR_TUTOR,
    TRACKER_AWAITING_ADMIN,
    TRACKER_CANCELLED,
    TRACKER_PROCESSED_FOR_TUTOR,
    TRACKER_REJECTED_FOR_RAISER,
    TRACKER_RESULT_FOR_LEARNER,
    Message,
    greeting,
    tracker_type_words,
)

TrackerEvent = (
    TrackerRaised | TrackerAllocated | TrackerProcessed | TrackerRejected | TrackerCancelled
)


def decide(event: Envelope[Any], directory: RecipientDirectory, now: datetime) -> Decision:
    """The notifications ``event`` calls for, and who was skipped and why."""
    if directory.tenant != event.tenant:
        raise ValueError(f"directory of tenant {directory.tenant} used for {event.tenant}")
    if not isinstance(event.data, TrackerEvent | DocumentIssued):
        return Decision()
    draft = _Draft(event, event.data, directory, now)
    match event.data:
        case DocumentIssued():
            _tell_tutor_of_new_document(draft, event.data)
        case TrackerRaised():
            _tell_admins_of_raised(draft, event.data)
        case TrackerAllocated():
            _tell_admin(draft, event.data.allocated_to, "has been allocated to you")
        case TrackerProcessed():
            _tell_tutor_of_processed(draft, event.data)
            _tell_learner_of_result(draft, event.data)
        case TrackerRejected():
            _tell_raiser_of_rejection(draft, event.data)
        case TrackerCancelled():
            _tell_of_cancellation(draft, event.data)
    return draft.decision()


# --- the rules ---------------------------------------------------------------------------------


def _tell_admins_of_raised(draft: _Draft, raised: TrackerRaised) -> None:
    if raised.allocated_to:
        _tell_admin(draft, raised.allocated_to, "has been allocated to you")
        return
    candidates = list(dict.fromkeys(raised.candidate_processors))  # unique, in the given order
    if not candidates:
        draft.skip(None, None, "tracker is unallocated and no admin may process its type")
    for admin_id in candidates:
        _tell_admin(draft, admin_id, "is waiting for an admin who can process it")


def _tell_admin(draft: _Draft, admin_id: str, why: str) -> None:
    message = TRACKER_AWAITING_ADMIN.render(**draft.tracker_values(admin_id), why=why)
    draft.in_app(admin_id, message)
    if draft.directory.settings.email_admins:
        draft.email(admin_id, message)


def _tell_tutor_of_processed(draft: _Draft, processed: TrackerProcessed) -> None:
    tutor_id = _primary_tutor(draft, processed.learner_id)
    if tutor_id is None:
        return
    processed_by = draft.directory.name_of(processed.processed_by) or processed.processed_by
    values = draft.tracker_values(tutor_id)
    message = TRACKER_PROCESSED_FOR_TUTOR.render(**values, processed_by=processed_by)
    draft.in_app(tutor_id, message)
    draft.email(tutor_id, message)


def _tell_tutor_of_new_document(draft: _Draft, issued: DocumentIssued) -> None:
    if issued.tracker_id is None:
        return  # the first plan is signed at enrolment, which staff are doing anyway
    tutor_id = _primary_tutor(draft, issued.learner_id)
    if tutor_id is None:
        return
    changed = ", ".join(name.replace("_", " ") for name in issued.changed_fields)
    message = DOCUMENT_AWAITS_SIGNATURE_FOR_TUTOR.render(
        greeting=greeting(draft.directory.name_of(tutor_id)),
        learner=draft.learner_name(),
        tracker_id=issued.tracker_id,
        title=issued.title.lower(),
        document_id=issued.document_id,
        changed=changed or "its details",
    )
    draft.in_app(tutor_id, message)
    draft.email(tutor_id, message)


def _primary_tutor(draft: _Draft, learner_id: str) -> str | None:
    """The learner's primary tutor; None (and the reason kept) when there is none to tell."""
    learner = draft.directory.learners.get(learner_id)
    if learner is None:
        reason = f"learner {learner_id} is not in the projection: primary tutor unknown"
        draft.skip(None, None, reason)
        return None
    if learner.primary_tutor_id is None:
        draft.skip(None, None, f"learner {learner.id} has no primary tutor")
        return None
    return learner.primary_tutor_id


def _tell_learner_of_result(draft: _Draft, processed: TrackerProcessed) -> None:
    if not processed.learner_led:
        return
    learner_id = processed.learner_id
    message = TRACKER_RESULT_FOR_LEARNER.render(**draft.tracker_values(learner_id))
    draft.in_app(learner_id, message)
    draft.email(learner_id, message)


def _tell_raiser_of_rejection(draft: _Draft, rejected: TrackerRejected) -> None:
    raiser_id = rejected.raised_by
    rejected_by = draft.directory.name_of(rejected.rejected_by) or rejected.rejected_by
    values = draft.tracker_values(raiser_id)
    message = TRACKER_REJECTED_FOR_RAISER.render(
        **values, rejected_by=rejected_by, reason=rejected.reason
    )
    draft.in_app(raiser_id, message)
    draft.email(raiser_id, message)


def _tell_of_cancellation(draft: _Draft, cancelled: TrackerCancelled) -> None:
    cancelled_by = draft.directory.name_of(cancelled.cancelled_by) or cancelled.cancelled_by
    reason = cancelled.reason or "none given"
    if cancelled.allocated_to:
        message = TRACKER_CANCELLED.render(
            **draft.tracker_values(cancelled.allocated_to),
            cancelled_by=cancelled_by,
            what="There is nothing left to process.",
            reason=reason,
        )
        draft.in_app(cancelled.allocated_to, message)
        if draft.directory.settings.email_admins:
            draft.email(cancelled.allocated_to, message)
    if cancelled.raised_by == cancelled.allocated_to:
        return
    message = TRACKER_CANCELLED.render(
        **draft.tracker_values(cancelled.raised_by),
        cancelled_by=cancelled_by,
        what="You raised it; it will not be processed.",
        reason=reason,
    )
    draft.in_app(cancelled.raised_by, message)
    draft.email(cancelled.raised_by, message)


# --- collecting the outcome --------------------------------------------------------------------


def _doer(payload: TrackerEvent | DocumentIssued) -> str | None:
    """Who did what the event records: nobody is told about their own action. A new document
    version is nobody's own action."""
    match payload:
        case DocumentIssued():
            return None
        case TrackerRaised():
            return payload.raised_by
        case TrackerAllocated():
            return payload.allocated_by
        case TrackerProcessed():
            return payload.processed_by
        case TrackerRejected():
            return payload.rejected_by
        case TrackerCancelled():
            return payload.cancelled_by


@dataclass
class _Draft:
    event: Envelope[Any]
    payload: TrackerEvent | DocumentIssued
    directory: RecipientDirectory
    now: datetime
    notifications: dict[str, Notification] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)

    def tracker_values(self, recipient_id: str) -> dict[str, str]:
        assert not isinstance(self.payload, DocumentIssued)
        return {
            "greeting": greeting(self.directory.name_of(recipient_id)),
            "tracker_type": tracker_type_words(self.payload.tracker_type),
            "tracker_id": self.payload.tracker_id,
            "learner": self.learner_name(),
        }

    def learner_name(self) -> str:
        learner_id = self.payload.learner_id
        return self.directory.name_of(learner_id) or f"learner {learner_id}"

    def in_app(self, recipient_id: str, message: Message) -> None:
        if self._is_doer(recipient_id, "in_app"):
            return
        self._add(recipient_id, "in_app", message, email_to=None)

    def email(self, recipient_id: str, message: Message) -> None:
        if self._is_doer(recipient_id, "email"):
            return
        address = self.directory.email_of(recipient_id)
        if address is None:
            self.skip(recipient_id, "email", f"no email address known for {recipient_id}")
            return
        self._add(recipient_id, "email", message, email_to=address)

    def skip(self, recipient_id: str | None, channel: Channel | None, reason: str) -> None:
        self.skipped.append(Skipped(recipient_id=recipient_id, channel=channel, reason=reason))

    def decision(self) -> Decision:
        return Decision(notifications=list(self.notifications.values()), skipped=self.skipped)

    def _is_doer(self, recipient_id: str, channel: Channel) -> bool:
        if recipient_id != _doer(self.payload):
            return False
        self.skip(recipient_id, channel, f"{recipient_id} did this themselves")
        return True

    def _add(
        self, recipient_id: str, channel: Channel, message: Message, email_to: str | None
    ) -> None:
        notification = Notification(
            id=notification_id(self.event.id, recipient_id, channel),
            tenant=self.event.tenant,
            recipient_id=recipient_id,
            channel=channel,
            subject=message.subject,
            body_text=message.body_text,
            body_html=message.body_html,
            email_to=email_to,
            tracker_id=self.payload.tracker_id,
            learner_id=self.payload.learner_id,
            event_id=self.event.id,
            event_type=self.event.type,
            created_at=self.now,
        )
        self.notifications.setdefault(notification.id, notification)
