"""The webhook sender with an in-memory store and a mock HTTP transport: signed requests, retries
then the dead list, a claimed delivery left alone, and one tenant's hanging endpoint holding up
no other tenant."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ilrflow.notify.adapters.webhook_sender import WebhookSender
from ilrflow.notify.domain.webhooks import Delivery, Subscription, signature
from ilrflow.platform.settings import Settings

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class FakeSenderStore:
    def __init__(self, *tenants: str) -> None:
        self.subscriptions = {
            f"wh_{t}": Subscription(
                id=f"wh_{t}",
                tenant=t,
                url=f"https://{t}.example.org/hooks",
                event_types=["tracker-*"],
                secret=SECRET,
                created_by="admin-1",
                created_at=T0,
            )
            for t in tenants
        }
        self.deliveries = {
            f"d_{t}": Delivery(
                id=f"d_{t}",
                tenant=t,
                subscription_id=f"wh_{t}",
                event_id=f"e_{t}",
                event_type="tracker-processed",
                payload={"type": "tracker-processed", "data": {"tracker_id": "T1"}},
                next_attempt_at=T0,
                created_at=T0,
            )
            for t in tenants
        }

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        return [
            d
            for d in self.deliveries.values()
            if d.status == "pending" and d.next_attempt_at and d.next_attempt_at <= now
        ][:limit]

    async def claim(self, delivery: Delivery, until: datetime) -> bool:
        stored = self.deliveries[delivery.id]
        if stored.status != "pending" or stored.next_attempt_at != delivery.next_attempt_at:
            return False
        self.deliveries[delivery.id] = stored.model_copy(update={"next_attempt_at": until})
        return True

    async def subscription(self, tenant: str, subscription_id: str) -> Subscription | None:
        return self.subscriptions.get(subscription_id)

    async def record_attempt(
        self,
        delivery_id: str,
        attempt: dict[str, Any],
        status: str,
        next_attempt_at: datetime | None,
    ) -> None:
        stored = self.deliveries[delivery_id]
        self.deliveries[delivery_id] = stored.model_copy(
            update={
                "status": status,
                "next_attempt_at": next_attempt_at,
                "attempts": [*stored.attempts, attempt],
            }
        )


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _sender(store: FakeSenderStore, clock: Clock) -> WebhookSender:
    settings = Settings(
        webhook_allow_private_urls=True, webhook_max_attempts=2, webhook_retry_first_seconds=10
    )
    return WebhookSender(settings, store, clock=clock)


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("never happened")


async def test_a_delivery_is_posted_signed_and_recorded_delivered() -> None:
    store, clock, seen = FakeSenderStore("acme"), Clock(), []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        assert await _sender(store, clock).start_due(client) == 1
        await _until(lambda: store.deliveries["d_acme"].status == "delivered")
    [request] = seen
    timestamp = int(request.headers["webhook-timestamp"])
    assert timestamp == int(T0.timestamp())
    assert request.headers["webhook-id"] == "d_acme"
    assert request.headers["webhook-signature"] == signature(
        SECRET, "d_acme", timestamp, request.content
    )


async def test_a_failing_endpoint_is_retried_then_the_delivery_is_dead() -> None:
    store, clock = FakeSenderStore("acme"), Clock()
    transport = httpx.MockTransport(lambda request: httpx.Response(503, text="down"))
    async with httpx.AsyncClient(transport=transport) as client:
        sender = _sender(store, clock)
        await sender.start_due(client)
        await _until(lambda: len(store.deliveries["d_acme"].attempts) == 1)
        retry_at = store.deliveries["d_acme"].next_attempt_at
        assert retry_at is not None
        assert T0 + timedelta(seconds=5) <= retry_at < T0 + timedelta(seconds=10)
        assert await sender.start_due(client) == 0  # not due yet
        clock.now = retry_at
        await sender.start_due(client)
        await _until(lambda: store.deliveries["d_acme"].status == "dead")
    delivery = store.deliveries["d_acme"]
    assert [a["status_code"] for a in delivery.attempts] == [503, 503]
    assert delivery.next_attempt_at is None


async def test_a_delivery_another_sender_claimed_meanwhile_is_not_sent() -> None:
    class ReadBeforeTheClaim(FakeSenderStore):
        async def due(self, now: datetime, limit: int) -> list[Delivery]:
            return read

    store, clock, seen = ReadBeforeTheClaim("acme"), Clock(), []
    read = await FakeSenderStore.due(store, T0, 10)
    assert await store.claim(read[0], T0 + timedelta(minutes=1))  # the other sender

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        assert await _sender(store, clock).start_due(client) == 1
        await asyncio.sleep(0.05)
    assert seen == []
    assert store.deliveries["d_acme"].attempts == []


@pytest.mark.timeout(10)
async def test_a_hanging_endpoint_holds_up_no_other_tenant() -> None:
    store, clock, release = FakeSenderStore("slow", "quick"), Clock(), asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "slow.example.org":
            await release.wait()
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        assert await _sender(store, clock).start_due(client) == 2
        await _until(lambda: store.deliveries["d_quick"].status == "delivered")
        assert store.deliveries["d_slow"].status == "pending"
        release.set()
        await _until(lambda: store.deliveries["d_slow"].status == "delivered")
