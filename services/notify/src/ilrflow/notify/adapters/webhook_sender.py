"""Sends due webhook deliveries over HTTP, each signed per Standard Webhooks, with retries.

Isolation: each delivery is sent in a task of its own, at most ``webhook_tenant_concurrency`` at
a time per tenant, each bounded by ``webhook_timeout_seconds``; the loop that finds due deliveries
never waits for a send, so one slow or failing endpoint holds up no other tenant's deliveries.
A sender claims a delivery before sending it (its next attempt moves past the request timeout),
so no other sender picks it meanwhile, and one that stopped mid-send leaves it due again later.
Receivers deduplicate on ``webhook-id``: a sender stopped between the request and recording it
sends that delivery once more (at least once on the wire; exactly one stored delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from ilrflow.notify.domain.webhooks import (
    Delivery,
    Subscription,
    WebhookRetry,
    is_public_address,
    next_try,
    signed_headers,
)
from ilrflow.notify.service.webhooks import UrlGuard
from ilrflow.platform.logging import get_logger
from ilrflow.platform.settings import Settings

log = get_logger(__name__)

DUE_PAGE = 200
ERROR_CHARS = 300
LEASE_MARGIN_SECONDS = 30  # beyond the request timeout: reading the subscription, recording  # of a response body or error kept in the delivery log


class SenderStore(Protocol):
    """What the sender needs of storage (``WebhookRepository``; a fake in the unit tests)."""

    async def due(self, now: datetime, limit: int) -> list[Delivery]: ...

    async def claim(self, delivery: Delivery, until: datetime) -> bool: ...

    async def subscription(self, tenant: str, subscription_id: str) -> Subscription | None: ...

    async def record_attempt(
        self,
        delivery_id: str,
        attempt: dict[str, Any],
        status: str,
        next_attempt_at: datetime | None,
    ) -> None: ...


async def private_address_refusal(url: str) -> str | None:
    """Why ``url`` may not be called: its host resolves to a non-public address (SSRF)."""
    host = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as error:
        return f"the host {host!r} does not resolve: {error}"
    private = sorted({str(info[4][0]) for info in infos if not is_public_address(str(info[4][0]))})
    if private:
        return f"the host {host!r} resolves to a private address ({', '.join(private)})"
    return None


async def any_address(url: str) -> str | None:
    """The guard with ``ILRFLOW_WEBHOOK_ALLOW_PRIVATE_URLS`` (development, tests): refuses none."""
    return None


def url_guard(settings: Settings) -> UrlGuard:
    return any_address if settings.webhook_allow_private_urls else private_address_refusal


class WebhookSender:
    def __init__(
        self,
        settings: Settings,
        repository: SenderStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._repository = repository
        self._clock = clock
        self._url_guard = url_guard(settings)
        self._policy = WebhookRetry(
            first_delay=timedelta(seconds=settings.webhook_retry_first_seconds),
            max_attempts=settings.webhook_max_attempts,
        )
        self._lease = timedelta(seconds=settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS)
        self._wake = asyncio.Event()
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._per_tenant: dict[str, asyncio.Semaphore] = {}
        self.sent = 0

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        timeout = httpx.Timeout(self._settings.webhook_timeout_seconds)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            while True:
                try:
                    await self.start_due(client)
                except Exception:
                    log.exception("webhook pass failed; retrying")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._wake.wait(), timeout=self._settings.webhook_poll_seconds
                    )

    async def start_due(self, client: httpx.AsyncClient) -> int:
        """Start a send for each due delivery not already being sent; returns how many."""
        started = 0
        for delivery in await self._repository.due(self._clock(), DUE_PAGE):
            if delivery.id in self._in_flight:
                continue
            self._in_flight.add(delivery.id)
            task = asyncio.create_task(self._send_isolated(client, delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def _send_isolated(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        limit = self._per_tenant.setdefault(
            delivery.tenant, asyncio.Semaphore(self._settings.webhook_tenant_concurrency)
        )
        try:
            async with limit:
                if await self._repository.claim(delivery, self._clock() + self._lease):
                    await self.send(client, delivery)
        except Exception:
            log.exception("webhook send failed", delivery=delivery.id)
        finally:
            self._in_flight.discard(delivery.id)

    async def send(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        subscription = await self._repository.subscription(
            delivery.tenant, delivery.subscription_id
        )
        attempts = len(delivery.attempts) + 1
        if subscription is None:
            await self._record(delivery, attempts, "the subscription was deleted", final=True)
            return
        refused = await self._url_guard(subscription.url)
        if refused:  # checked again here: a host may resolve elsewhere since it was subscribed
            await self._record(delivery, attempts, refused, final=True)
            return
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        now = self._clock()
        headers = signed_headers(subscription.secret, delivery.id, int(now.timestamp()), body)
        started = time.monotonic()
        try:
            response = await client.post(subscription.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            await self._record(delivery, attempts, f"{type(error).__name__}: {error}", final=False)
            return
        elapsed_ms = round((time.monotonic() - started) * 1000)
        if response.is_success:
            self.sent += 1
            await self._repository.record_attempt(
                delivery.id,
                {"at": now, "status_code": response.status_code, "duration_ms": elapsed_ms},
                "delivered",
                None,
            )
            return
        refusal = f"HTTP {response.status_code}: {response.text[:ERROR_CHARS]}"
        await self._record(delivery, attempts, refusal, final=False, code=response.status_code)

    async def _record(
        self, delivery: Delivery, attempts: int, error: str, *, final: bool, code: int | None = None
    ) -> None:
        now = self._clock()
        retry_at = None if final else next_try(attempts, now, self._policy)
        status = "pending" if retry_at else "dead"
        log.warning("webhook delivery failed", delivery=delivery.id, status=status, error=error)
        await self._repository.record_attempt(
            delivery.id,
            {"at": now, "status_code": code, "error": error[:ERROR_CHARS]},
            status,
            retry_at,
        )
