"""What notify knows and makes: the recipient projection, notifications, and skipped recipients.

A notification's id is derived from (event id, recipient, channel), so an inbox with a unique key
on it turns a redelivered event into a no-op instead of a second message.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["in_app", "email"]
NOTIFICATION_ID_LENGTH = 32  # hex characters: 128 bits, ample against accidental collision


def notification_id(event_id: str, recipient_id: str, channel: Channel) -> str:
    # NUL cannot occur in these ids, so the joined form is unambiguous.
    material = "\x00".join((event_id, recipient_id, channel)).encode()
    return hashlib.sha256(material).hexdigest()[:NOTIFICATION_ID_LENGTH]


class StaffMember(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    email: str | None = None
    roles: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)


class LearnerContact(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    email: str | None = None
    primary_tutor_id: str | None = None
    group: str | None = None  # who may read what was sent about the learner (visibility)


class TenantNotifySettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    email_admins: bool = False


class RecipientDirectory(BaseModel):
    """The slice of notify's projection a decision needs, for one tenant."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    staff: dict[str, StaffMember] = Field(default_factory=dict)
    learners: dict[str, LearnerContact] = Field(default_factory=dict)
    settings: TenantNotifySettings = TenantNotifySettings()

    def email_of(self, person_id: str) -> str | None:
        """A person's address, whether they are staff or a learner (a raiser can be either)."""
        person = self.staff.get(person_id) or self.learners.get(person_id)
        return person.email if person else None

    def name_of(self, person_id: str) -> str | None:
        person = self.staff.get(person_id) or self.learners.get(person_id)
        return person.name if person else None


class Notification(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    recipient_id: str
    channel: Channel
    subject: str
    body_text: str
    body_html: str
    email_to: str | None = None
    tracker_id: str | None = None
    learner_id: str | None = None
    event_id: str
    event_type: str
    created_at: datetime


class Skipped(BaseModel):
    """Someone a rule would have told, and why they were not: kept for the delivery log."""

    model_config = ConfigDict(frozen=True)

    recipient_id: str | None
    channel: Channel | None
    reason: str


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    notifications: list[Notification] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)
