"""An in-memory stand-in for notify's MongoDB adapter, with the same semantics: the recipient
projection upserts by (tenant, id), and the inbox stores a notification once per id (event,
recipient, channel), so a redelivered event adds nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ilrflow.notify.domain.model import (
    LearnerContact,
    Notification,
    RecipientDirectory,
    StaffMember,
    TenantNotifySettings,
)
from ilrflow.notify.service.use_cases import NotifyService

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class FakeNotifyStore:
    def __init__(self) -> None:
        self._staff: dict[tuple[str, str], StaffMember] = {}
        self._learners: dict[tuple[str, str], LearnerContact] = {}
        self.settings: dict[str, TenantNotifySettings] = {}
        self.inbox: dict[str, Notification] = {}

    async def upsert_staff(self, tenant: str, staff: StaffMember) -> None:
        self._staff[(tenant, staff.id)] = staff

    async def upsert_learner(self, tenant: str, learner: LearnerContact) -> None:
        self._learners[(tenant, learner.id)] = learner

    async def directory(self, tenant: str, learner_ids: Sequence[str]) -> RecipientDirectory:
        return RecipientDirectory(
            tenant=tenant,
            staff={i: s for (t, i), s in self._staff.items() if t == tenant},
            learners={
                i: c for (t, i), c in self._learners.items() if t == tenant and i in learner_ids
            },
            settings=self.settings.get(tenant, TenantNotifySettings()),
        )

    async def add(self, notifications: Sequence[Notification], now: datetime) -> int:
        new = [n for n in notifications if n.id not in self.inbox]
        self.inbox.update((n.id, n) for n in new)
        return len(new)

    # --- for the tests ------------------------------------------------------------------------

    def sent_to(self, recipient_id: str) -> list[tuple[str, str]]:
        """(channel, event type) of what ``recipient_id`` was sent, in the order stored."""
        return [
            (n.channel, n.event_type) for n in self.inbox.values() if n.recipient_id == recipient_id
        ]


def notify_service(store: FakeNotifyStore, emails_queued: Callable[[], None]) -> NotifyService:
    """The service over the fake (typed, so mypy checks the fake fits the protocol)."""
    return NotifyService(store, emails_queued, clock=lambda: T0)
