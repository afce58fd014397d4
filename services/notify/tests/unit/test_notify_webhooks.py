"""Webhooks without I/O: Standard Webhooks signatures, event filters, the retry plan, and the use
cases through an in-memory store (one delivery per event and subscription, tenants apart,
replay). The end-to-end test proves sending to a real receiver."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ilrflow.contracts.errors import InvalidInput, NotFound
from ilrflow.contracts.events import TrackerProcessed, new_event
from ilrflow.contracts.identity import Principal
from ilrflow.notify.domain.webhooks import (
    Delivery,
    InvalidSubscription,
    Subscription,
    WebhookRetry,
    check_filters,
    check_url,
    is_public_address,
    next_try,
    signature,
    signed_headers,
)
from ilrflow.notify.service.webhooks import WebhookService

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ADMIN = Principal(sub="admin-1", tenant="acme", roles=["admin"])
OTHER_ADMIN = Principal(sub="admin-9", tenant="globex", roles=["admin"])


# --- signatures ---------------------------------------------------------------------------


def test_the_signature_matches_the_standard_webhooks_test_vector() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signed = signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_headers_name_the_message_its_time_and_its_signature() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = signed_headers(secret, "msg_1", 1614265330, b"{}")
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == "1614265330"
    assert headers["webhook-signature"] == signature(secret, "msg_1", 1614265330, b"{}")
    assert headers["webhook-signature"] != signature(secret, "msg_1", 1614265331, b"{}")


# --- filters and URLs ---------------------------------------------------------------------


def test_a_prefix_filter_takes_every_tracker_event_and_no_ilr_update() -> None:
    subscription = _subscription(event_types=["tracker-*"])
    assert subscription.wants("tracker-processed")
    assert subscription.wants("tracker-raised")
    assert not subscription.wants("ilr-updated")


@pytest.mark.parametrize("filters", [[], ["learner-updated"], ["nothing-*"]])
def test_a_filter_that_matches_no_event_type_is_refused(filters: list[str]) -> None:
    with pytest.raises(InvalidSubscription):
        check_filters(filters)


@pytest.mark.parametrize("url", ["ftp://example.org/x", "file:///etc/passwd", "https:///x"])
def test_only_http_urls_with_a_host_are_taken(url: str) -> None:
    with pytest.raises(InvalidSubscription):
        check_url(url)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("::1", False),
        ("fd00::1", False),
        ("224.0.0.1", False),
    ],
)
def test_private_addresses_are_not_public(address: str, public: bool) -> None:
    assert is_public_address(address) is public


# --- the retry plan -----------------------------------------------------------------------


def test_retries_back_off_exponentially_with_jitter_then_give_up() -> None:
    policy = WebhookRetry(first_delay=timedelta(seconds=10), max_attempts=4)
    assert next_try(1, T0, policy, jitter=lambda: 0.0) == T0 + timedelta(seconds=5)
    assert next_try(1, T0, policy, jitter=lambda: 0.999) < T0 + timedelta(seconds=10)
    assert next_try(3, T0, policy, jitter=lambda: 0.0) == T0 + timedelta(seconds=20)
    assert next_try(4, T0, policy) is None


def test_the_delay_is_capped() -> None:
    policy = WebhookRetry(max_delay=timedelta(minutes=1), max_attempts=100)
    assert next_try(60, T0, policy, jitter=lambda: 0.0) == T0 + timedelta(seconds=30)


# --- the use cases ------------------------------------------------------------------------


class FakeWebhookStore:
    def __init__(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.stored: dict[str, Delivery] = {}

    async def add_subscription(self, subscription: Subscription) -> None:
        self.subscriptions[subscription.id] = subscription

    async def subscriptions_of(self, tenant: str) -> list[Subscription]:
        return [s for s in self.subscriptions.values() if s.tenant == tenant]

    async def recent_subscriptions_of(self, tenant: str) -> list[Subscription]:
        return await self.subscriptions_of(tenant)

    async def subscription(self, tenant: str, subscription_id: str) -> Subscription | None:
        found = self.subscriptions.get(subscription_id)
        return found if found and found.tenant == tenant else None

    async def remove_subscription(self, tenant: str, subscription_id: str) -> bool:
        if await self.subscription(tenant, subscription_id) is None:
            return False
        del self.subscriptions[subscription_id]
        return True

    async def set_secret(self, tenant: str, subscription_id: str, secret: str) -> bool:
        found = await self.subscription(tenant, subscription_id)
        if found is None:
            return False
        self.subscriptions[subscription_id] = found.model_copy(update={"secret": secret})
        return True

    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> int:
        new = [d for d in deliveries if d.id not in self.stored]
        self.stored.update({d.id: d for d in new})
        return len(new)

    async def deliveries_of(
        self,
        tenant: str,
        subscription_id: str,
        status: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Delivery]:
        chosen = [
            d
            for d in self.stored.values()
            if d.tenant == tenant
            and d.subscription_id == subscription_id
            and status in (None, d.status)
            and (after is None or (d.created_at, d.id) < after)
        ]
        return sorted(chosen, key=lambda d: (d.created_at, d.id), reverse=True)[:limit]

    async def requeue(self, tenant: str, delivery_id: str, now: datetime) -> Delivery | None:
        found = self.stored.get(delivery_id)
        if found is None or found.tenant != tenant:
            return None
        self.stored[delivery_id] = found.model_copy(
            update={"status": "pending", "next_attempt_at": now}
        )
        return self.stored[delivery_id]


class Wakes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def no_refusal(url: str) -> str | None:
    return None


async def refuse_all(url: str) -> str | None:
    return "the host resolves to a private address (127.0.0.1)"


@pytest.fixture
def store() -> FakeWebhookStore:
    return FakeWebhookStore()


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
def service(store: FakeWebhookStore, wakes: Wakes) -> WebhookService:
    return WebhookService(store, no_refusal, wakes, clock=lambda: T0)


async def test_a_subscription_gets_a_standard_webhooks_secret(service: WebhookService) -> None:
    created = await service.subscribe(ADMIN, "https://hooks.example.org/in", ["tracker-*"])
    assert created.secret.startswith("whsec_")
    assert created.tenant == "acme"
    rotated = await service.rotate_secret(ADMIN, created.id)
    assert rotated.secret != created.secret


async def test_a_private_url_is_refused_when_the_guard_says_so(store: FakeWebhookStore) -> None:
    guarded = WebhookService(store, refuse_all, Wakes(), clock=lambda: T0)
    with pytest.raises(InvalidInput, match="private address"):
        await guarded.subscribe(ADMIN, "http://127.0.0.1:9/in", ["tracker-*"])
    assert store.subscriptions == {}


async def test_an_event_makes_one_delivery_per_wanting_subscription_even_when_redelivered(
    service: WebhookService, store: FakeWebhookStore, wakes: Wakes
) -> None:
    trackers = await service.subscribe(ADMIN, "https://a.example.org/", ["tracker-*"])
    await service.subscribe(ADMIN, "https://b.example.org/", ["ilr-updated"])
    await service.subscribe(OTHER_ADMIN, "https://c.example.org/", ["tracker-*"])
    event = _processed()
    await service.on_event(event)
    await service.on_event(event)
    [delivery] = store.stored.values()
    assert delivery.subscription_id == trackers.id
    assert delivery.payload["type"] == "tracker-processed"
    assert delivery.payload["data"]["tracker_id"] == "T1"  # type: ignore[index]
    assert wakes.count == 1


async def test_replay_requeues_a_dead_delivery_of_the_callers_tenant_only(
    service: WebhookService, store: FakeWebhookStore, wakes: Wakes
) -> None:
    subscription = await service.subscribe(ADMIN, "https://a.example.org/", ["tracker-*"])
    await service.on_event(_processed())
    [delivery] = store.stored.values()
    store.stored[delivery.id] = delivery.model_copy(update={"status": "dead"})
    with pytest.raises(NotFound):
        await service.replay(OTHER_ADMIN, delivery.id)
    replayed = await service.replay(ADMIN, delivery.id)
    assert (replayed.status, replayed.next_attempt_at) == ("pending", T0)
    assert wakes.count == 2
    assert await service.deliveries(ADMIN, subscription.id, "pending", None, 10) == [replayed]
    with pytest.raises(NotFound):
        await service.deliveries(OTHER_ADMIN, subscription.id, None, None, 10)


async def test_another_tenant_cannot_delete_or_rotate_a_webhook(service: WebhookService) -> None:
    subscription = await service.subscribe(ADMIN, "https://a.example.org/", ["tracker-*"])
    with pytest.raises(NotFound):
        await service.unsubscribe(OTHER_ADMIN, subscription.id)
    with pytest.raises(NotFound):
        await service.rotate_secret(OTHER_ADMIN, subscription.id)
    await service.unsubscribe(ADMIN, subscription.id)
    assert await service.subscriptions(ADMIN) == []


def _processed() -> Any:
    payload = TrackerProcessed(
        tracker_id="T1",
        learner_id="L1",
        tracker_type="change_of_address",
        changes={},
        processed_by="admin-1",
        processor_roles=["admin"],
        raised_by="L1",
        learner_led=True,
    )
    return new_event(payload, tenant="acme", subject="L1", actor="admin-1")


def _subscription(**fields: Any) -> Subscription:
    defaults: dict[str, Any] = {
        "id": "wh_1",
        "tenant": "acme",
        "url": "https://example.org/",
        "event_types": ["tracker-processed"],
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "created_by": "admin-1",
        "created_at": T0,
    }
    return Subscription(**defaults | fields)
