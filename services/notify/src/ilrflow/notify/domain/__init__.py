"""The notify service's rules, free of I/O: who is told what about each event, in which words,
under which id, and when a failed email is tried again.
"""

from ilrflow.notify.domain.model import (
    Channel,
    Decision,
    LearnerContact,
    Notification,
    RecipientDirectory,
    Skipped,
    StaffMember,
    TenantNotifySettings,
    notification_id,
)
from ilrflow.notify.domain.projection import learner_contact_from, staff_member_from
from ilrflow.notify.domain.retry import DEFAULT_RETRY, RetryPolicy, next_attempt
from ilrflow.notify.domain.rules import decide

__all__ = [
    "DEFAULT_RETRY",
    "Channel",
    "Decision",
    "LearnerContact",
    "Notification",
    "RecipientDirectory",
    "RetryPolicy",
    "Skipped",
    "StaffMember",
    "TenantNotifySettings",
    "decide",
    "learner_contact_from",
    "next_attempt",
    "notification_id",
    "staff_member_from",
]
