"""On the real MongoDB-wire server: two clients (two replicas of a service) racing to update one
document lose nothing, and of racing conditional updates on one version exactly one wins, many
times over. FerretDB 1.24 reads, changes and writes back a document without a transaction, on
SQLite and PostgreSQL alike; our build's patch (update-document-locks) applies the updates of one
document one at a time, which is what lets ``ilrflow.platform.ferretdb`` send every conditional
update to the server as it is."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.mongo import Document

pytestmark = pytest.mark.e2e

DOCUMENTS = 30
RACERS = 4  # updates of each document at once, taken in turn by the two clients


@pytest.fixture
async def replicas(database: Any) -> AsyncIterator[list[Any]]:
    """The test's database as two clients see it, each on its own connections."""
    other: AsyncMongoClient[Document] = AsyncMongoClient(
        os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/"), retryWrites=False
    )
    try:
        yield [database, other[database.name]]
    finally:
        await other.close()


async def race(databases: list[Any], update: Any) -> list[int]:
    """Each document of ``docs`` updated ``RACERS`` times at once, by
    ``update(collection, _id, racer)`` on the databases in turn; the updates that matched, per
    document."""
    await databases[0]["docs"].insert_many(
        [{"_id": f"d{n}", "version": 0, "count": 0, "winners": []} for n in range(DOCUMENTS)]
    )
    matched = []
    for n in range(DOCUMENTS):
        results = await asyncio.gather(
            *(
                update(databases[racer % len(databases)]["docs"], f"d{n}", racer)
                for racer in range(RACERS)
            )
        )
        matched.append(sum(result.matched_count for result in results))
    return matched


def version_check(collection: Any, identity: str, racer: int) -> Any:
    return collection.update_one(
        {"_id": identity, "version": 0}, {"$set": {"version": 1}, "$push": {"winners": racer}}
    )


async def test_one_of_two_clients_conditional_updates_wins(replicas: list[Any]) -> None:
    matched = await race(replicas, version_check)

    assert matched == [1] * DOCUMENTS
    stored = await replicas[0]["docs"].find({}).to_list()
    assert all(len(document["winners"]) == 1 for document in stored)


async def test_increments_from_two_clients_all_count(replicas: list[Any]) -> None:
    await race(
        replicas,
        lambda collection, identity, racer: collection.update_one(
            {"_id": identity}, {"$inc": {"count": 1}}
        ),
    )

    stored = await replicas[0]["docs"].find({}).to_list()
    assert [document["count"] for document in stored] == [RACERS] * DOCUMENTS


async def test_two_replicas_serialised_writes_one_conditional_update_wins(
    replicas: list[Any],
) -> None:
    """As the services do it, through ``serialised_writes``."""
    wrapped = [{"docs": serialised_writes(db["docs"])} for db in replicas]

    matched = await race(wrapped, version_check)

    assert matched == [1] * DOCUMENTS
    stored = await replicas[0]["docs"].find({}).to_list()
    assert all(len(document["winners"]) == 1 for document in stored)
