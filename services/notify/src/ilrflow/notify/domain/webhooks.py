"""Webhooks: subscriptions, their event filters, Standard Webhooks signatures and the retry plan.

A delivery's id is derived from (event id, subscription id), so a redelivered event, or one
consumed again after a restart, finds its delivery stored and adds none: exactly one delivery
per event and subscription. Signatures follow the Standard Webhooks specification: the secret is
``whsec_`` + base64 of random bytes, and ``webhook-signature`` is ``v1,`` + base64 of
HMAC-SHA256(secret bytes, ``"{webhook-id}.{webhook-timestamp}.{body}"``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import random
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from ilrflow.contracts.errors import InvalidInput
from ilrflow.contracts.events import Topics

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
DELIVERY_ID_LENGTH = 32  # hex characters, as notification ids
WEBHOOK_EVENT_TYPES: tuple[str, ...] = (
    Topics.TRACKER_RAISED,
    Topics.TRACKER_ALLOCATED,
    Topics.TRACKER_PROCESSED,
    Topics.TRACKER_REJECTED,
    Topics.TRACKER_CANCELLED,
    Topics.ILR_UPDATED,
)
DeliveryStatus = Literal["pending", "delivered", "dead"]


class InvalidSubscription(InvalidInput):
    """A subscription the service will not store (bad URL or filter)."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
        "content-type": "application/json",
    }


def delivery_id(event_id: str, subscription_id: str) -> str:
    material = "\x00".join((event_id, subscription_id)).encode()
    return hashlib.sha256(material).hexdigest()[:DELIVERY_ID_LENGTH]


def check_filters(filters: list[str]) -> list[str]:
    """Each filter is an event type (``ilr-updated``) or a prefix ending in ``*`` (``tracker-*``)
    that matches at least one event type."""
    if not filters:
        raise InvalidSubscription("at least one event type is needed")
    for pattern in filters:
        if not any(matches(pattern, t) for t in WEBHOOK_EVENT_TYPES):
            raise InvalidSubscription(
                f"{pattern!r} matches no event type; known: {', '.join(WEBHOOK_EVENT_TYPES)}"
            )
    return sorted(set(filters))


def matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidSubscription("the URL must be http(s)://host/...")
    return url


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local (cloud metadata), reserved and multicast ones."""
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


class Subscription(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    url: str
    event_types: list[str]
    secret: str
    created_by: str
    created_at: datetime

    def wants(self, event_type: str) -> bool:
        return any(matches(p, event_type) for p in self.event_types)


class Delivery(BaseModel):
    """One event for one subscription; ``attempts`` holds the log of every try."""

    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    subscription_id: str
    event_id: str
    event_type: str
    payload: dict[str, object]
    status: DeliveryStatus = "pending"
    attempts: list[dict[str, object]] = Field(default_factory=list)
    next_attempt_at: datetime | None
    created_at: datetime


class WebhookRetry(NamedTuple):
    first_delay: timedelta = timedelta(seconds=30)
    multiplier: int = 2
    max_delay: timedelta = timedelta(hours=1)
    max_attempts: int = 8


def next_try(
    attempts: int,
    now: datetime,
    policy: WebhookRetry,
    jitter: Callable[[], float] = random.random,
) -> datetime | None:
    """When to try again after ``attempts`` failed tries, or None: the delivery is dead. The
    delay is first_delay * multiplier^(attempts-1), capped, scaled by a random factor in
    [0.5, 1) so that endpoints coming back up are not hit by every retry at once."""
    if attempts >= policy.max_attempts:
        return None
    delay = policy.first_delay
    for _ in range(attempts - 1):
        if delay >= policy.max_delay:
            break
        delay = delay * policy.multiplier
    return now + min(delay, policy.max_delay) * (0.5 + jitter() / 2)
