"""MongoDB persistence for notify: the recipient projection and the notification inbox.

A notification's ``_id`` is derived from (event id, recipient, channel), so writing the inbox
twice for a redelivered event inserts nothing new: exactly one notification per key.

The tenant's staff and notify settings, read for every tracker event, are kept in the process for
``SLOW_READS_SECONDS`` (``ilrflow.platform.cache``): this process's own changes are seen at once,
another replica's within that bound. The learner contacts are read each time (one per learner).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
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
from ilrflow.platform.cache import FreshFor
from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.mongo import Document, newest_first_after

DUPLICATE_KEY = 11000
EMAIL_LEASE = timedelta(minutes=1)  # well past a send's SMTP timeout (10 s)
SLOW_READS_SECONDS = 5.0  # how long the tenant's staff and settings are used once read


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
        self._staff_of: FreshFor[str, dict[str, StaffMember]] = FreshFor(SLOW_READS_SECONDS)
        self._settings_of: FreshFor[str, TenantNotifySettings] = FreshFor(SLOW_READS_SECONDS)

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
        self._staff_of.forget(tenant)

    async def upsert_learner(self, tenant: str, learner: LearnerContact) -> None:
        await self.learners.update_one(
            {"_id": f"{tenant}:{learner.id}"},
            {"$set": {"tenant": tenant, **learner.model_dump(mode="json")}},
            upsert=True,
        )

    async def directory(self, tenant: str, learner_ids: Sequence[str]) -> RecipientDirectory:
        staff = await self._staff_of.get(tenant, lambda: self._read_staff(tenant))
        ids = [f"{tenant}:{learner_id}" for learner_id in learner_ids]
        learners = {
            d["id"]: LearnerContact.model_validate(_fields(d))
            async for d in self.learners.find({"_id": {"$in": ids}})
        }
        settings = await self._settings_of.get(tenant, lambda: self._read_settings(tenant))
        return RecipientDirectory(tenant=tenant, staff=staff, learners=learners, settings=settings)

    async def _read_staff(self, tenant: str) -> dict[str, StaffMember]:
        return {
            d["id"]: StaffMember.model_validate(_fields(d))
            async for d in self.staff.find({"tenant": tenant})
        }

    async def _read_settings(self, tenant: str) -> TenantNotifySettings:
        document = await self.settings.find_one({"_id": tenant})
        return TenantNotifySettings.model_validate(_fields(document or {}))

    async def save_settings(self, tenant: str, settings: TenantNotifySettings) -> None:
        await self.settings.update_one(
            {"_id": tenant}, {"$set": settings.model_dump(mode="json")}, upsert=True
        )
        self._settings_of.forget(tenant)

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

    async def due_emails(self, now: datetime, limit: int = 50) -> list[str]:
        """The ids of email rows pending, due and not claimed by a live lease."""
        query = {"delivery.status": "pending", **_due_and_free(now)}
        return [d["_id"] async for d in self.notifications.find(query, {"_id": 1}).limit(limit)]

    async def claim_email(self, notification_id: str, now: datetime) -> Document | None:
        """The email row, claimed for this process to make its next attempt, if it is pending,
        due and not claimed by a live lease: one findAndModify, so of several replicas one wins,
        and a row sent or rescheduled meanwhile is not taken. A holder that dies leaves the row
        to be taken over once the lease has run out; recording the attempt
        (``record_delivery``) replaces the delivery, lease and all."""
        return await self.notifications.find_one_and_update(
            {
                "_id": notification_id,
                "delivery.status": "pending",
                **_due_and_free(now),
            },
            {"$set": {"delivery.claimed_until": now + EMAIL_LEASE}},
            return_document=ReturnDocument.AFTER,
        )

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


def _due_and_free(now: datetime) -> Document:
    return {
        "delivery.next_attempt_at": {"$lte": now},
        "$or": [{"delivery.claimed_until": None}, {"delivery.claimed_until": {"$lte": now}}],
    }


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
