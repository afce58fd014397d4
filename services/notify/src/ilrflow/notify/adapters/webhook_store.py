"""MongoDB persistence for webhooks: subscriptions and deliveries.

A delivery's ``_id`` is derived from (event id, subscription id): inserting the deliveries of a
redelivered event finds every key taken and adds nothing.

The subscriptions an event is matched against are kept in the process for
``SUBSCRIPTIONS_SECONDS`` (``ilrflow.platform.cache``): a subscription added or removed here is
seen by the next event at once, one added or removed on another replica within that bound. The
sender reads the subscription again before each attempt, so a removed one is never called and
the current secret signs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from ilrflow.notify.domain.webhooks import Delivery, Subscription
from ilrflow.platform.cache import FreshFor
from ilrflow.platform.claims import CLAIMS_COLLECTION, Claims
from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.mongo import Document, newest_first_after

DUPLICATE_KEY = 11000
SUBSCRIPTIONS_SECONDS = 5.0  # how long a tenant's subscriptions are matched against once read


class WebhookRepository:
    def __init__(
        self, db: AsyncDatabase[Document], lease: timedelta = timedelta(minutes=1)
    ) -> None:
        self.subscriptions: AsyncCollection[Document] = db["webhook_subscriptions"]
        self.deliveries: AsyncCollection[Document] = serialised_writes(db["webhook_deliveries"])
        self._claims = Claims(db[CLAIMS_COLLECTION], lease)
        self._subscribed: FreshFor[str, list[Subscription]] = FreshFor(SUBSCRIPTIONS_SECONDS)

    async def ensure_indexes(self) -> None:
        await self.subscriptions.create_index([("tenant", ASCENDING)])
        await self.deliveries.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
        await self.deliveries.create_index(
            [("tenant", ASCENDING), ("subscription_id", ASCENDING), ("created_at", DESCENDING)]
        )

    # --- subscriptions --------------------------------------------------------------------

    async def add_subscription(self, subscription: Subscription) -> None:
        await self.subscriptions.insert_one(_document(subscription))
        self._subscribed.forget(subscription.tenant)

    async def subscriptions_of(self, tenant: str) -> list[Subscription]:
        cursor = self.subscriptions.find({"tenant": tenant}).sort("created_at", ASCENDING)
        return [_subscription(d) async for d in cursor]

    async def recent_subscriptions_of(self, tenant: str) -> list[Subscription]:
        """``subscriptions_of``, as read at most ``SUBSCRIPTIONS_SECONDS`` ago."""
        return await self._subscribed.get(tenant, lambda: self.subscriptions_of(tenant))

    async def subscription(self, tenant: str, subscription_id: str) -> Subscription | None:
        document = await self.subscriptions.find_one({"_id": subscription_id, "tenant": tenant})
        return _subscription(document) if document else None

    async def remove_subscription(self, tenant: str, subscription_id: str) -> bool:
        result = await self.subscriptions.delete_one({"_id": subscription_id, "tenant": tenant})
        self._subscribed.forget(tenant)
        return result.deleted_count == 1

    async def set_secret(self, tenant: str, subscription_id: str, secret: str) -> bool:
        result = await self.subscriptions.update_one(
            {"_id": subscription_id, "tenant": tenant}, {"$set": {"secret": secret}}
        )
        return result.matched_count == 1

    # --- deliveries -----------------------------------------------------------------------

    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> int:
        """Insert those not stored yet; returns how many were new."""
        if not deliveries:
            return 0
        try:
            result = await self.deliveries.insert_many(
                [_document(d) for d in deliveries], ordered=False
            )
            return len(result.inserted_ids)
        except BulkWriteError as error:
            if any(e.get("code") != DUPLICATE_KEY for e in error.details.get("writeErrors", [])):
                raise
            return int(error.details.get("nInserted", 0))

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        query = {"status": "pending", "next_attempt_at": {"$lte": now}}
        cursor = self.deliveries.find(query).sort("next_attempt_at", ASCENDING).limit(limit)
        return [_delivery(d) async for d in cursor]

    async def claim(self, delivery: Delivery, until: datetime) -> bool:
        """Claim the delivery's next attempt for this process (``ilrflow.platform.claims``: one
        replica wins, across processes), check it was not made meanwhile (``delivery`` may be a
        stale read), and move its next attempt to ``until``, so no sender picks it again before.
        Should this sender stop before recording the attempt, the delivery falls due again at
        ``until``, when the claim's lease has run out too."""
        attempt = len(delivery.attempts) + 1
        if not await self._claims.take(f"webhook:{delivery.id}:{attempt}"):
            return False
        current = await self.deliveries.find_one({"_id": delivery.id})
        if (
            current is None
            or current["status"] != "pending"
            or len(current.get("attempts") or []) != len(delivery.attempts)
        ):
            return False
        await self.deliveries.update_one({"_id": delivery.id}, {"$set": {"next_attempt_at": until}})
        return True

    async def record_attempt(
        self,
        delivery_id: str,
        attempt: dict[str, Any],
        status: str,
        next_attempt_at: datetime | None,
    ) -> None:
        await self.deliveries.update_one(
            {"_id": delivery_id},
            {
                "$set": {"status": status, "next_attempt_at": next_attempt_at},
                "$push": {"attempts": attempt},
            },
        )

    async def deliveries_of(
        self,
        tenant: str,
        subscription_id: str,
        status: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Delivery]:
        query: Document = {"tenant": tenant, "subscription_id": subscription_id}
        if status is not None:
            query["status"] = status
        query |= newest_first_after(after, "created_at", "_id")
        order = [("created_at", DESCENDING), ("_id", DESCENDING)]
        cursor = self.deliveries.find(query).sort(order).limit(limit)
        return [_delivery(d) async for d in cursor]

    async def requeue(self, tenant: str, delivery_id: str, now: datetime) -> Delivery | None:
        """Make a delivery due now, whatever its status; None when the tenant has no such one."""
        await self.deliveries.update_one(
            {"_id": delivery_id, "tenant": tenant},
            {"$set": {"status": "pending", "next_attempt_at": now}},
        )
        document = await self.deliveries.find_one({"_id": delivery_id, "tenant": tenant})
        return _delivery(document) if document else None


def _document(model: Subscription | Delivery) -> Document:
    document = model.model_dump(mode="python")
    document["_id"] = document.pop("id")
    return document


def _subscription(document: Document) -> Subscription:
    return Subscription.model_validate({**document, "id": document["_id"]})


def _delivery(document: Document) -> Delivery:
    return Delivery.model_validate({**document, "id": document["_id"]})
