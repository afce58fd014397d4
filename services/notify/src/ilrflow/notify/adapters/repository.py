"""MongoDB persistence for notify: the recipient projection and the notification inbox.

A notification's ``_id`` is derived from (event id, recipient, channel), so writing the inbox
twice for a redelivered event inserts nothing new: exactly one notification per key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from ilrflow.notify.domain.model import (
    LearnerContact,
    Notification,
    RecipientDirectory,
    StaffMember,
    TenantNotifySettings,
)
from ilrflow.platform.claims import CLAIMS_COLLECTION, Claims
from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.mongo import Document, newest_first_after

DUPLICATE_KEY = 11000
EMAIL_LEASE = timedelta(minutes=1)  # well past a send's SMTP timeout (10 s)


STAFF = "staff_projection"
LEARNERS = "learner_projection"


class NotifyRepository:
    """The recipient projection and the inbox; a rebuild names the projection it fills."""

    def __init__(
        self, db: AsyncDatabase[Document], *, staff: str = STAFF, learners: str = LEARNERS
    ) -> None:
        self.staff: AsyncCollection[Document] = db[staff]
        self.learners: AsyncCollection[Document] = db[learners]
        self.settings: AsyncCollection[Document] = db["notify_settings"]
        self.notifications: AsyncCollection[Document] = serialised_writes(db["notifications"])
        self._claims = Claims(db[CLAIMS_COLLECTION], EMAIL_LEASE)

    async def ensure_indexes(self) -> None:
        await self.ensure_staff_index()
        await self.notifications.create_index(
            [("tenant", ASCENDING), ("recipient_id", ASCENDING), ("created_at", DESCENDING)]
        )
        await self.notifications.create_index(
            [("delivery.status", ASCENDING), ("delivery.next_attempt_at", ASCENDING)]
        )
        await self.notifications.create_index(
            [("tenant", ASCENDING), ("learner_id", ASCENDING), ("created_at", DESCENDING)]
        )

    # --- projection -----------------------------------------------------------------------

    async def ensure_staff_index(self) -> None:
        await self.staff.create_index([("tenant", ASCENDING)])

    async def upsert_staff(self, tenant: str, staff: StaffMember) -> None:
        await self.staff.update_one(
            {"_id": f"{tenant}:{staff.id}"},
            {"$set": {"tenant": tenant, **staff.model_dump(mode="json")}},
            upsert=True,
        )

    async def upsert_learner(self, tenant: str, learner: LearnerContact) -> None:
        await self.learners.update_one(
            {"_id": f"{tenant}:{learner.id}"},
            {"$set": {"tenant": tenant, **learner.model_dump(mode="json")}},
            upsert=True,
        )

    async def directory(self, tenant: str, learner_ids: Sequence[str]) -> RecipientDirectory:
        staff = {
            d["id"]: StaffMember.model_validate(_fields(d))
            async for d in self.staff.find({"tenant": tenant})
        }
        ids = [f"{tenant}:{learner_id}" for learner_id in learner_ids]
        learners = {
            d["id"]: LearnerContact.model_validate(_fields(d))
            async for d in self.learners.find({"_id": {"$in": ids}})
        }
        settings_doc = await self.settings.find_one({"_id": tenant})
        settings = TenantNotifySettings.model_validate(_fields(settings_doc or {}))
        return RecipientDirectory(tenant=tenant, staff=staff, learners=learners, settings=settings)

    async def save_settings(self, tenant: str, settings: TenantNotifySettings) -> None:
        await self.settings.update_one(
            {"_id": tenant}, {"$set": settings.model_dump(mode="json")}, upsert=True
        )

    # --- inbox ----------------------------------------------------------------------------

    async def add(self, notifications: Sequence[Notification], now: datetime) -> int:
        """Insert those not stored yet; returns how many were new."""
        if not notifications:
            return 0
        documents = [_inbox_document(n, now) for n in notifications]
        try:
            result = await self.notifications.insert_many(documents, ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as error:
            if any(e.get("code") != DUPLICATE_KEY for e in error.details.get("writeErrors", [])):
                raise
            return int(error.details.get("nInserted", 0))

    async def inbox(
        self,
        tenant: str,
        recipient_id: str,
        unread_only: bool,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Document]:
        query: Document = {"tenant": tenant, "recipient_id": recipient_id, "channel": "in_app"}
        if unread_only:
            query["read_at"] = None
        return await self._newest_first(query, after, limit)

    async def unread_count(self, tenant: str, recipient_id: str) -> int:
        return await self.notifications.count_documents(
            {"tenant": tenant, "recipient_id": recipient_id, "channel": "in_app", "read_at": None}
        )

    async def learner(self, tenant: str, learner_id: str) -> LearnerContact | None:
        found = await self.learners.find_one({"_id": f"{tenant}:{learner_id}"})
        return None if found is None else LearnerContact.model_validate(_fields(found))

    async def about_learner(
        self, tenant: str, learner_id: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[Document]:
        return await self._newest_first({"tenant": tenant, "learner_id": learner_id}, after, limit)

    async def mark_read(
        self, tenant: str, recipient_id: str, notification_id: str, at: datetime
    ) -> Document | None:
        query = {"_id": notification_id, "tenant": tenant, "recipient_id": recipient_id}
        await self.notifications.update_one({**query, "read_at": None}, {"$set": {"read_at": at}})
        return await self.notifications.find_one(query)

    async def due_emails(self, now: datetime, limit: int = 50) -> list[Document]:
        query = {"delivery.status": "pending", "delivery.next_attempt_at": {"$lte": now}}
        return [d async for d in self.notifications.find(query).limit(limit)]

    async def due_emails_by_id(self, ids: Sequence[str], now: datetime) -> list[Document]:
        """The rows among ``ids`` still pending and due, each read by ``_id`` (FerretDB pushes
        down nothing else)."""
        due = []
        for notification_id in ids:
            row = await self.notifications.find_one({"_id": notification_id})
            delivery = (row or {}).get("delivery") or {}
            at = delivery.get("next_attempt_at")
            if (
                row is not None
                and delivery.get("status") == "pending"
                and (at is None or at <= now)
            ):
                due.append(row)
        return due

    async def claim_email(self, row: Document) -> bool:
        """Claim the next attempt at sending an email row for this process: one replica wins
        (``ilrflow.platform.claims``), and only if the row was not sent or retried meanwhile
        (``row`` may be a stale read). A holder that dies leaves the row to be taken over once
        the lease has run out."""
        attempts = int(row["delivery"].get("attempts", 0))
        if not await self._claims.take(f"email:{row['_id']}:{attempts + 1}"):
            return False
        current = await self.notifications.find_one({"_id": row["_id"]}, {"delivery": 1})
        delivery = (current or {}).get("delivery") or {}
        return delivery.get("status") == "pending" and int(delivery.get("attempts", 0)) == attempts

    async def record_delivery(self, notification_id: str, delivery: dict[str, Any]) -> None:
        await self.notifications.update_one(
            {"_id": notification_id}, {"$set": {"delivery": delivery}}
        )

    async def deliveries(
        self, tenant: str, status: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[Document]:
        query: Document = {"tenant": tenant, "channel": "email"}
        if status is not None:
            query["delivery.status"] = status
        return await self._newest_first(query, after, limit)

    async def _newest_first(
        self, query: Document, after: tuple[datetime, str] | None, limit: int
    ) -> list[Document]:
        query |= newest_first_after(after, "created_at", "_id")
        order = [("created_at", DESCENDING), ("_id", DESCENDING)]
        return [d async for d in self.notifications.find(query).sort(order).limit(limit)]


def _fields(document: Document) -> Document:
    return {k: v for k, v in document.items() if k not in ("_id", "tenant")}


def _inbox_document(notification: Notification, now: datetime) -> Document:
    document = notification.model_dump(mode="python")
    document["_id"] = notification.id
    document["read_at"] = None
    if notification.channel == "email":
        document["delivery"] = {
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": None,
        }
    return document
