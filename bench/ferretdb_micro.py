"""Micro-benchmark of the MongoDB-wire server alone: inserts, updates and finds by ``_id``.

    uv run python -m bench.ferretdb_micro [--url mongodb://127.0.0.1:27129/] [--docs 500]
        [--concurrency 8]

Each figure is operations per second through PyMongo's async client, ``--concurrency`` at a
time, on a fresh database (dropped afterwards). Used to compare FerretDB's SQLite settings and
the patch in deploy/local/ferretdb/patches.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import AsyncMongoClient

from ilrflow.platform.ferretdb import serialised_writes


async def _timed(count: int, concurrency: int, op: Callable[[int], Awaitable[Any]]) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        async with gate:
            await op(n)

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    return round(count / (time.perf_counter() - started), 1)


async def run(url: str, docs: int, concurrency: int) -> dict[str, float]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, retryWrites=False)
    name = f"micro{secrets.token_hex(3)}"
    collection = client[name]["docs"]
    wrapped = serialised_writes(collection)
    body = {"payload": "x" * 600, "version": 0, "applied_events": []}
    try:
        await collection.insert_one({"_id": "warm-up"})
        result = {
            "insert_per_s": await _timed(
                docs, concurrency, lambda n: collection.insert_one({"_id": f"d{n}", **body})
            ),
            "update_by_id_per_s": await _timed(
                docs,
                concurrency,
                lambda n: collection.update_one({"_id": f"d{n}"}, {"$inc": {"version": 1}}),
            ),
            "conditional_update_per_s": await _timed(
                docs,
                concurrency,
                lambda n: collection.update_one(
                    {"_id": f"d{n}", "version": 1, "applied_events": {"$ne": "e"}},
                    {"$inc": {"version": 1}, "$push": {"applied_events": "e"}},
                ),
            ),
            # The same through serialised_writes: read by _id, check here, update by _id.
            "conditional_update_in_process_per_s": await _timed(
                docs,
                concurrency,
                lambda n: wrapped.update_one(
                    {"_id": f"d{n}", "version": 2, "applied_events": {"$ne": "f"}},
                    {"$inc": {"version": 1}, "$push": {"applied_events": "f"}},
                ),
            ),
            "find_by_id_per_s": await _timed(
                docs, concurrency, lambda n: collection.find_one({"_id": f"d{n}"})
            ),
        }
    finally:
        await client.drop_database(name)
        await client.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="mongodb://127.0.0.1:27129/")
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(run(arguments.url, arguments.docs, arguments.concurrency))))


if __name__ == "__main__":
    main()
