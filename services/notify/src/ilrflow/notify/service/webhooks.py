"""Webhook use cases: a tenant admin's subscriptions, one delivery per (event, subscription) when
an event is consumed, the delivery log and replay. Sending is the sender's job
(adapters/webhook_sender.py)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from ilrflow.contracts.errors import InvalidInput, NotFound
from ilrflow.contracts.events import Envelope
from ilrflow.contracts.identity import Principal
from ilrflow.notify.domain.webhooks import (
    Delivery,
    Subscription,
    check_filters,
    check_url,
    delivery_id,
    new_secret,
)

UrlGuard = Callable[[str], Awaitable[str | None]]
"""Why a URL may not be called (a private address), or None."""


class WebhookStore(Protocol):
    async def add_subscription(self, subscription: Subscription) -> None: ...

    async def subscriptions_of(self, tenant: str) -> list[Subscription]: ...

    async def recent_subscriptions_of(self, tenant: str) -> list[Subscription]:
        """The tenant's subscriptions as read a bounded time ago at most (each event asks)."""
        ...

    async def subscription(self, tenant: str, subscription_id: str) -> Subscription | None: ...

    async def remove_subscription(self, tenant: str, subscription_id: str) -> bool: ...

    async def set_secret(self, tenant: str, subscription_id: str, secret: str) -> bool: ...

    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> int: ...

    async def deliveries_of(
        self,
        tenant: str,
        subscription_id: str,
        status: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Delivery]:
        """Newest first (``created_at``, then id), after the one whose key is ``after``."""
        ...

    async def requeue(self, tenant: str, delivery_id: str, now: datetime) -> Delivery | None: ...


class WebhookService:
    def __init__(
        self,
        store: WebhookStore,
        url_guard: UrlGuard,
        deliveries_queued: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self._url_guard = url_guard
        self._deliveries_queued = deliveries_queued
        self._clock = clock

    async def subscribe(
        self, principal: Principal, url: str, event_types: list[str]
    ) -> Subscription:
        """The new subscription, with its secret: the only time the secret is shown."""
        check_url(url)
        refused = await self._url_guard(url)
        if refused:
            raise InvalidInput(refused, [{"field": "url", "reason": refused}])
        subscription = Subscription(
            id="wh_" + secrets.token_hex(12),
            tenant=principal.tenant,
            url=url,
            event_types=check_filters(event_types),
            secret=new_secret(),
            created_by=principal.sub,
            created_at=self._clock(),
        )
        await self.store.add_subscription(subscription)
        return subscription

    async def subscriptions(self, principal: Principal) -> list[Subscription]:
        return await self.store.subscriptions_of(principal.tenant)

    async def unsubscribe(self, principal: Principal, subscription_id: str) -> None:
        if not await self.store.remove_subscription(principal.tenant, subscription_id):
            raise NotFound.of("webhook", subscription_id)

    async def rotate_secret(self, principal: Principal, subscription_id: str) -> Subscription:
        """A new secret; deliveries from now on are signed with it."""
        if not await self.store.set_secret(principal.tenant, subscription_id, new_secret()):
            raise NotFound.of("webhook", subscription_id)
        return await self._subscription(principal, subscription_id)

    async def deliveries(
        self,
        principal: Principal,
        subscription_id: str,
        status: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Delivery]:
        await self._subscription(principal, subscription_id)
        return await self.store.deliveries_of(
            principal.tenant, subscription_id, status, after, limit
        )

    async def replay(self, principal: Principal, delivery_id: str) -> Delivery:
        """Send a delivery again (a dead one, or a delivered one the receiver lost)."""
        delivery = await self.store.requeue(principal.tenant, delivery_id, self._clock())
        if delivery is None:
            raise NotFound.of("webhook delivery", delivery_id)
        self._deliveries_queued()
        return delivery

    async def on_event(self, event: Envelope[Any]) -> None:
        """One delivery per subscription that wants the event; a redelivery adds none."""
        wanted = [
            s
            for s in await self.store.recent_subscriptions_of(event.tenant)
            if s.wants(event.topic)
        ]
        now = self._clock()
        deliveries = [
            Delivery(
                id=delivery_id(event.id, s.id),
                tenant=event.tenant,
                subscription_id=s.id,
                event_id=event.id,
                event_type=event.topic,
                payload=payload_of(event),
                next_attempt_at=now,
                created_at=now,
            )
            for s in wanted
        ]
        if await self.store.add_deliveries(deliveries):
            self._deliveries_queued()

    async def _subscription(self, principal: Principal, subscription_id: str) -> Subscription:
        subscription = await self.store.subscription(principal.tenant, subscription_id)
        if subscription is None:
            raise NotFound.of("webhook", subscription_id)
        return subscription


def payload_of(event: Envelope[Any]) -> dict[str, Any]:
    """The body the receiver gets: the Standard Webhooks shape (type, timestamp, data)."""
    return {
        "type": event.topic,
        "timestamp": event.time.isoformat(),
        "data": {
            "event_id": event.id,
            "event_type": event.type,
            "subject": event.subject,
            **event.data.model_dump(mode="json"),
        },
    }
