"""What the notify use cases need of storage, as a protocol: the MongoDB adapter satisfies it
(mypy checks it where bootstrap wires it in) and the unit tests' in-memory fake does too."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from ilrflow.notify.domain.model import (
    LearnerContact,
    Notification,
    RecipientDirectory,
    StaffMember,
    TenantNotifySettings,
)


class NotifyStore(Protocol):
    """The recipient projection and the inbox, keyed so that a notification is stored once."""

    async def upsert_staff(self, tenant: str, staff: StaffMember) -> None: ...

    async def upsert_learner(self, tenant: str, learner: LearnerContact) -> None: ...

    async def directory(self, tenant: str, learner_ids: Sequence[str]) -> RecipientDirectory:
        """The tenant's staff, these learners and the tenant's settings."""
        ...

    async def add(self, notifications: Sequence[Notification], now: datetime) -> int:
        """Insert those whose id is not stored yet; returns how many were new."""
        ...

    # --- what the HTTP use cases read and change -------------------------------------------

    async def inbox(
        self,
        tenant: str,
        recipient_id: str,
        unread_only: bool,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Newest first (``created_at``, then id), after the one whose key is ``after``."""
        ...

    async def unread_count(self, tenant: str, recipient_id: str) -> int: ...

    async def learner(self, tenant: str, learner_id: str) -> LearnerContact | None: ...

    async def about_learner(
        self, tenant: str, learner_id: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        """What was sent about the learner (every recipient, both channels), as :meth:`inbox`
        orders it."""
        ...

    async def mark_read(
        self, tenant: str, recipient_id: str, notification_id: str, at: datetime
    ) -> dict[str, Any] | None:
        """The notification after marking it read; None when it is not the recipient's."""
        ...

    async def deliveries(
        self, tenant: str, status: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Email rows newest first, as :meth:`inbox` orders them."""
        ...

    async def save_settings(self, tenant: str, settings: TenantNotifySettings) -> None: ...
