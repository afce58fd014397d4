"""An in-memory stand-in for notify's MongoDB adapter, with the same semantics: the recipient
projection upserts by (tenant, id), and the inbox stores a notification once per id (event,
recipient, channel), so a redelivered event adds nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

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
        self.stored: dict[str, Notification] = {}
        self.read_at: dict[str, datetime] = {}

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
        new = [n for n in notifications if n.id not in self.stored]
        self.stored.update((n.id, n) for n in new)
        return len(new)

    async def inbox(
        self,
        tenant: str,
        recipient_id: str,
        unread_only: bool,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        mine = [
            self._document(n)
            for n in self.stored.values()
            if (n.tenant, n.recipient_id, n.channel) == (tenant, recipient_id, "in_app")
            and not (unread_only and n.id in self.read_at)
        ]
        return _newest_first(mine, after)[:limit]

    async def learner(self, tenant: str, learner_id: str) -> LearnerContact | None:
        return self._learners.get((tenant, learner_id))

    async def about_learner(
        self, tenant: str, learner_id: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        about = [
            self._document(n)
            for n in self.stored.values()
            if (n.tenant, n.learner_id) == (tenant, learner_id)
        ]
        return _newest_first(about, after)[:limit]

    async def unread_count(self, tenant: str, recipient_id: str) -> int:
        return len(await self.inbox(tenant, recipient_id, True, None, limit=10**9))

    async def mark_read(
        self, tenant: str, recipient_id: str, notification_id: str, at: datetime
    ) -> dict[str, Any] | None:
        stored = self.stored.get(notification_id)
        if stored is None or (stored.tenant, stored.recipient_id) != (tenant, recipient_id):
            return None
        self.read_at.setdefault(notification_id, at)
        return self._document(stored)

    async def deliveries(
        self, tenant: str, status: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        emails = [
            self._document(n)
            for n in self.stored.values()
            if (n.tenant, n.channel) == (tenant, "email")
        ]
        # the fake sends nothing: no status yet
        return _newest_first(emails, after)[:limit] if status is None else []

    async def save_settings(self, tenant: str, settings: TenantNotifySettings) -> None:
        self.settings[tenant] = settings

    def _document(self, notification: Notification) -> dict[str, Any]:
        return {
            "_id": notification.id,
            **notification.model_dump(),
            "read_at": self.read_at.get(notification.id),
        }

    # --- for the tests ------------------------------------------------------------------------

    def sent_to(self, recipient_id: str) -> list[tuple[str, str]]:
        """(channel, event type) of what ``recipient_id`` was sent, in the order stored."""
        return [
            (n.channel, n.event_type)
            for n in self.stored.values()
            if n.recipient_id == recipient_id
        ]


def notify_service(store: FakeNotifyStore, emails_queued: Callable[[], None]) -> NotifyService:
    """The service over the fake (typed, so mypy checks the fake fits the protocol)."""
    return NotifyService(store, emails_queued, clock=lambda: T0)


def _newest_first(
    documents: list[dict[str, Any]], after: tuple[datetime, str] | None
) -> list[dict[str, Any]]:
    """As the Mongo store orders a page: newest first (created_at, then id), after ``after``."""
    ordered = sorted(documents, key=lambda d: (d["created_at"], d["_id"]), reverse=True)
    return [d for d in ordered if after is None or (d["created_at"], d["_id"]) < after]
