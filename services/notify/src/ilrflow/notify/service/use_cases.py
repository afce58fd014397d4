"""Notify use cases: keep the recipient projection, turn tracker events into notifications."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ilrflow.contracts.events import Envelope, LearnerUpdated, StaffUpdated
from ilrflow.notify.domain.projection import learner_contact_from, staff_member_from
from ilrflow.notify.domain.rules import decide
from ilrflow.notify.service.ports import NotifyStore
from ilrflow.platform.logging import get_logger

log = get_logger(__name__)


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
        """Write the inbox for this event; a redelivery finds every key taken and adds nothing."""
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
