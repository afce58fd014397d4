"""Micro-benchmark of the MongoDB-wire server alone: an aggregate's save, as the consumers write
it, with its conditions in the filter and without.

    uv run python -m bench.ferretdb_micro [--url mongodb://127.0.0.1:27129/] [--docs 500]

``--docs`` documents of an aggregate's size (~600 bytes of state, a version, offsets of three
partitions and a full window of ``RECENT_EVENTS`` event ids) are saved once per pass through
``serialised_writes``, with the update a consumer sends (``$inc`` of the version, the idempotency
marks of ``ilrflow.platform.idempotency``: ``$set`` of the partition's offset, ``$push`` with
``$slice`` of the event id). A plain pass filters by ``_id`` alone; a conditional pass by ``_id``,
the version read and ``applied_filter`` (what every consumer's save sends). Each pass is timed one
save at a time and 8 at a time, on a fresh database (dropped afterwards); every conditional save
must match. Prints operations per second and the load average at start and end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import AsyncMongoClient

from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.idempotency import (
    OFFSETS_FIELD,
    RECENT_EVENTS,
    RECENT_FIELD,
    RecordPosition,
    applied_filter,
    applied_update,
)
from ilrflow.platform.outbox import merge_updates

TOPIC, PARTITIONS = "tracker-processed", 3
CONCURRENCY = (1, 8)


async def _timed(count: int, concurrency: int, op: Callable[[int], Awaitable[Any]]) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        async with gate:
            await op(n)

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    return round(count / (time.perf_counter() - started), 1)


def aggregate(n: int) -> dict[str, Any]:
    return {
        "_id": f"d{n}",
        "payload": "x" * 600,
        "version": 0,
        OFFSETS_FIELD: {f"{TOPIC}:{p}": 0 for p in range(PARTITIONS)},
        RECENT_FIELD: [secrets.token_hex(18) for _ in range(RECENT_EVENTS)],
    }


class Saves:
    """Pass after pass over the documents: each pass is the next event of every aggregate."""

    def __init__(self, collection: Any, docs: int) -> None:
        self._collection = collection
        self._docs = docs
        self.passes = 0  # every document's version is the number of passes made

    async def run(self, concurrency: int, conditional: bool) -> float:
        version, offset = self.passes, (self.passes + 1) * self._docs

        async def save(n: int) -> None:
            event_id = f"e{self.passes}-{n}"
            position = RecordPosition(TOPIC, n % PARTITIONS, offset + n)
            update = merge_updates({"$inc": {"version": 1}}, applied_update(event_id, position))
            conditions = {"version": version, **applied_filter(event_id, position)}
            filter = {"_id": f"d{n}", **(conditions if conditional else {})}
            result = await self._collection.update_one(filter, update)
            if result.matched_count != 1:
                raise AssertionError(f"{filter} matched nothing")

        rate = await _timed(self._docs, concurrency, save)
        self.passes += 1
        return rate


async def run(url: str, docs: int) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, retryWrites=False)
    name = f"micro{secrets.token_hex(3)}"
    collection = serialised_writes(client[name]["docs"])
    result: dict[str, Any] = {"docs": docs, "load_average_start": os.getloadavg()}
    try:
        await collection.insert_many([aggregate(n) for n in range(docs)])
        saves = Saves(collection, docs)
        await saves.run(8, conditional=False)  # warm-up: connections, caches
        for concurrency in CONCURRENCY:
            result[f"update_by_id_per_s_{concurrency}"] = await saves.run(concurrency, False)
            result[f"conditional_update_per_s_{concurrency}"] = await saves.run(concurrency, True)
    finally:
        await client.drop_database(name)
        await client.close()
    result["load_average_end"] = os.getloadavg()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="mongodb://127.0.0.1:27129/")
    parser.add_argument("--docs", type=int, default=500)
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(run(arguments.url, arguments.docs))))


if __name__ == "__main__":
    main()
