"""On the real MongoDB-wire server: replicas of a service side by side, each with its own
collection wrappers as separate processes have (no lock in memory shared between them): one of
them claims a piece of work, and their updates of one document lose nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ilrflow.notify.adapters.repository import NotifyRepository
from ilrflow.notify.adapters.webhook_store import WebhookRepository
from ilrflow.notify.domain.webhooks import Delivery
from ilrflow.platform.claims import Claims
from ilrflow.platform.ferretdb import serialised_writes

pytestmark = pytest.mark.e2e

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=1)
REPLICAS = 6


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def test_one_of_many_takes_a_claim_and_another_takes_it_over_after_the_lease(
    database: Any,
) -> None:
    clock = Clock()
    replicas = [Claims(database["claims"], LEASE, clock) for _ in range(REPLICAS)]
    won = await asyncio.gather(*(r.take("work:1") for r in replicas))
    assert won.count(True) == 1
    assert not await replicas[0].take("work:1")  # the lease runs
    assert await replicas[0].take("work:2")  # another piece of work

    clock.now += LEASE + timedelta(seconds=1)  # the holder is presumed dead
    taken_over = await asyncio.gather(*(r.take("work:1") for r in replicas))
    assert taken_over.count(True) == 1
    assert await database["claims"].count_documents({"key": "work:1"}) == 2


async def test_two_webhook_senders_claim_one_delivery_once(database: Any) -> None:
    delivery = Delivery(
        id="d1",
        tenant="acme",
        subscription_id="wh1",
        event_id="e1",
        event_type="tracker-processed",
        payload={"type": "tracker-processed"},
        next_attempt_at=T0,
        created_at=T0,
    )
    await WebhookRepository(database).add_deliveries([delivery])
    replicas = [WebhookRepository(database) for _ in range(REPLICAS)]
    won = await asyncio.gather(*(r.claim(delivery, T0 + LEASE) for r in replicas))
    assert won.count(True) == 1

    # The winner records its attempt; a sender that read the delivery before that (a stale
    # read, its lease long gone) finds the attempt made and sends nothing.
    await replicas[0].record_attempt("d1", {"at": T0, "status_code": 204}, "delivered", None)
    late = WebhookRepository(database, lease=timedelta(0))
    assert not await late.claim(delivery, T0 + LEASE)


async def test_two_email_senders_claim_one_row_once(database: Any) -> None:
    row = {
        "_id": "n1",
        "tenant": "acme",
        "channel": "email",
        "delivery": {"status": "pending", "attempts": 0, "next_attempt_at": T0},
    }
    await database["notifications"].insert_one(row)
    replicas = [NotifyRepository(database) for _ in range(REPLICAS)]
    won = await asyncio.gather(*(r.claim_email("n1", T0) for r in replicas))
    assert [w["delivery"]["attempts"] for w in won if w is not None] == [0]

    # Sent and recorded: a sender that read the row as pending before claims nothing.
    await replicas[0].record_delivery("n1", {"status": "sent", "attempts": 1})
    assert await replicas[1].claim_email("n1", T0 + LEASE * 2) is None
    # A failed attempt recorded as pending again is the next attempt, claimed once more, when due.
    retry_at = T0 + timedelta(seconds=30)
    await replicas[0].record_delivery(
        "n1", {"status": "pending", "attempts": 1, "next_attempt_at": retry_at}
    )
    assert await replicas[1].claim_email("n1", T0) is None
    won = await asyncio.gather(*(r.claim_email("n1", retry_at) for r in replicas))
    assert [w["delivery"]["attempts"] for w in won if w is not None] == [1]


async def test_an_email_claim_is_taken_over_once_its_lease_has_run_out(database: Any) -> None:
    await database["notifications"].insert_one(
        {"_id": "n1", "delivery": {"status": "pending", "attempts": 0, "next_attempt_at": T0}}
    )
    replicas = [NotifyRepository(database) for _ in range(REPLICAS)]
    assert await replicas[0].claim_email("n1", T0) is not None  # then the holder dies
    assert await replicas[1].claim_email("n1", T0 + LEASE - timedelta(seconds=1)) is None
    later = T0 + LEASE
    taken_over = await asyncio.gather(*(r.claim_email("n1", later) for r in replicas))
    assert len([t for t in taken_over if t is not None]) == 1


async def test_updates_from_two_processes_lose_nothing(database: Any) -> None:
    await database["docs"].insert_one({"_id": "a", "n": 0, "version": 0})
    replicas = [serialised_writes(database["docs"]) for _ in range(2)]
    await asyncio.gather(
        *(r.update_one({"_id": "a"}, {"$inc": {"n": 1}}) for r in replicas for _ in range(25))
    )
    document = await database["docs"].find_one({"_id": "a"})
    assert document is not None
    assert document["n"] == 50


async def test_a_conditional_update_from_two_processes_matches_once(database: Any) -> None:
    await database["docs"].insert_one({"_id": "a", "version": 0})
    replicas = [serialised_writes(database["docs"]) for _ in range(REPLICAS)]
    results = await asyncio.gather(
        *(r.update_one({"_id": "a", "version": 0}, {"$inc": {"version": 1}}) for r in replicas)
    )
    assert [r.modified_count for r in results].count(1) == 1
