"""Keeping notify's recipient projection from the learner service's events."""

from __future__ import annotations

from ilrflow.contracts.events import LearnerSnapshot, StaffUpdated
from ilrflow.notify.domain.model import LearnerContact, StaffMember


def staff_member_from(event: StaffUpdated) -> StaffMember:
    return StaffMember(
        id=event.id, name=event.name, email=event.email, roles=event.roles, groups=event.groups
    )


def learner_contact_from(learner: LearnerSnapshot) -> LearnerContact:
    return LearnerContact(
        id=learner.id,
        name=f"{learner.given_names} {learner.family_name}".strip(),
        email=learner.email,
        primary_tutor_id=learner.primary_tutor_id,
        group=learner.group,
    )
