"""Notify use cases: keep the recipient projection, turn tracker events into notifications, and
serve each caller's inbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ilrflow.contracts.errors import NotFound
from ilrflow.contracts.events import Envelope, LearnerUpdated, StaffUpdated
from ilrflow.contracts.identity import Principal
from ilrflow.contracts.visibility import may_read_learner
from ilrflow.notify.domain.model import TenantNotifySettings
from ilrflow.notify.domain.projection import learner_contact_from, staff_member_from
from ilrflow.notify.domain.rules import decide
from ilrflow.notify.service.ports import NotifyStore
from ilrflow.platform.logging import get_logger

log = get_logger(__name__)

Document = dict[str, Any]


class Inbox(NamedTuple):
    notifications: list[Document]
    unread: int


class NotifyService:
    def __init__(
        self,
        repository: NotifyStore,
        emails_queued: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.repository = repository
        self._emails_queued = emails_queued
        self._clock = clock

    async def on_learner_updated(self, event: Envelope[LearnerUpdated]) -> None:
        await self.repository.upsert_learner(event.tenant, learner_contact_from(event.data.learner))

    async def on_staff_updated(self, event: Envelope[StaffUpdated]) -> None:
        await self.repository.upsert_staff(event.tenant, staff_member_from(event.data))

    async def on_tracker_event(self, event: Envelope[Any]) -> None:
        """Write the inbox for a tracker event or a new training plan version; a redelivery
        finds every key taken and adds nothing."""
        people = {event.data.learner_id, getattr(event.data, "raised_by", event.data.learner_id)}
        directory = await self.repository.directory(event.tenant, sorted(people))
        decision = decide(event, directory, self._clock())
        for skipped in decision.skipped:
            log.warning(
                "notification skipped", recipient=skipped.recipient_id, reason=skipped.reason
            )
        added = await self.repository.add(decision.notifications, self._clock())
        if any(n.channel == "email" for n in decision.notifications) and added:
            self._emails_queued()

    # --- the caller's inbox and the tenant's deliveries ---------------------------------------

    async def inbox(
        self,
        principal: Principal,
        unread_only: bool,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> Inbox:
        found = await self.repository.inbox(
            principal.tenant, principal.sub, unread_only, after, limit
        )
        return Inbox(found, await self.unread_count(principal))

    async def unread_count(self, principal: Principal) -> int:
        return await self.repository.unread_count(principal.tenant, principal.sub)

    async def mark_read(self, principal: Principal, notification_id: str) -> Document:
        document = await self.repository.mark_read(
            principal.tenant, principal.sub, notification_id, self._clock()
        )
        if document is None:
            raise NotFound.of("notification", notification_id)
        return document

    async def about_learner(
        self,
        principal: Principal,
        learner_id: str,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Document]:
        """The notifications sent about a learner, to whoever may read the learner (the rule
        of every service, ``ilrflow.contracts.visibility``); to anyone else the learner is not
        found."""
        learner = await self.repository.learner(principal.tenant, learner_id)
        if learner is None or not may_read_learner(
            principal.sub, principal.roles, principal.groups, learner_id, learner.group
        ):
            raise NotFound.of("learner", learner_id)
        return await self.repository.about_learner(principal.tenant, learner_id, after, limit)

    async def deliveries(
        self,
        principal: Principal,
        status: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Document]:
        return await self.repository.deliveries(principal.tenant, status, after, limit)

    async def save_settings(
        self, principal: Principal, settings: TenantNotifySettings
    ) -> TenantNotifySettings:
        await self.repository.save_settings(principal.tenant, settings)
        return settings
