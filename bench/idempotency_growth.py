"""What idempotency costs an aggregate that has applied many events: its document size and the
time of one conditional write, before (every event id in ``applied_events``) and now (the last
offset per topic-partition and a window of recent ids, ``ilrflow.platform.idempotency``).

    uv run python -m bench.idempotency_growth [--url mongodb://127.0.0.1:27129/] [--events 1000]

One document per mechanism with a 600-byte body, ``--events`` events applied to it one after the
other through ``serialised_writes`` (as the repositories do), over two partitions of one topic.
The write time is the mean of the last 100 writes. Fresh database, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import bson
from pymongo import AsyncMongoClient

from ilrflow.contracts.events import new_event_id
from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.idempotency import RecordPosition, applied_filter, applied_update
from ilrflow.platform.outbox import merge_updates

Write = Callable[[str, RecordPosition], tuple[dict[str, Any], dict[str, Any]]]
TIMED_LAST = 100


def every_id(event_id: str, position: RecordPosition) -> tuple[dict[str, Any], dict[str, Any]]:
    """The mechanism before issue #16."""
    return {"applied_events": {"$ne": event_id}}, {"$push": {"applied_events": event_id}}


def offsets_and_window(
    event_id: str, position: RecordPosition
) -> tuple[dict[str, Any], dict[str, Any]]:
    return applied_filter(event_id, position), applied_update(event_id, position)


async def measure(collection: Any, name: str, events: int, write: Write) -> dict[str, Any]:
    await collection.insert_one({"_id": name, "payload": "x" * 600, "version": 0})
    timings = []
    for n in range(events):
        position = RecordPosition("tracker-processed", n % 2, n // 2)
        conditions, marks = write(new_event_id(), position)
        started = time.perf_counter()
        result = await collection.update_one(
            {"_id": name, **conditions}, merge_updates({"$inc": {"version": 1}}, marks)
        )
        timings.append(time.perf_counter() - started)
        assert result.matched_count == 1
    stored = await collection.find_one({"_id": name})
    last = timings[-TIMED_LAST:]
    return {
        "document_bytes": len(bson.encode(stored)),
        "write_ms": round(1000 * sum(last) / len(last), 2),
    }


async def run(url: str, events: int) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, retryWrites=False)
    name = f"idem{secrets.token_hex(3)}"
    collection = serialised_writes(client[name]["aggregates"])
    try:
        return {
            "events": events,
            "before_every_event_id": await measure(collection, "before", events, every_id),
            "now_offsets_and_window": await measure(collection, "now", events, offsets_and_window),
        }
    finally:
        await client.drop_database(name)
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="mongodb://127.0.0.1:27129/")
    parser.add_argument("--events", type=int, default=1000)
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(run(arguments.url, arguments.events))))


if __name__ == "__main__":
    main()
