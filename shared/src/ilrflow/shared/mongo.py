"""The one MongoDB client factory (PyMongo's async API; works on MongoDB 7+ and FerretDB 1.24)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from ilrflow.shared.settings import Settings

Document = dict[str, Any]


def create_client(settings: Settings) -> AsyncMongoClient[Document]:
    # Retryable writes are off: FerretDB is a standalone server, and a retried findAndModify
    # must never run twice without our own idempotency key anyway.
    return AsyncMongoClient(
        settings.mongo_url,
        tz_aware=True,
        retryWrites=False,
        serverSelectionTimeoutMS=5000,
        appname="ilrflow",
    )


def service_database(
    client: AsyncMongoClient[Document], settings: Settings, service: str
) -> AsyncDatabase[Document]:
    return client[settings.database_name(service)]


async def ping(client: AsyncMongoClient[Document]) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:
        return False
    return True


class _DocumentLocks:
    """One asyncio lock per document id, dropped again when nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[Any, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Any) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class _SerialisedWrites:
    """A collection whose single-document updates of one document run one at a time."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        self._locks = _DocumentLocks()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    async def update_one(self, filter: Document, *args: Any, **kwargs: Any) -> Any:
        async with self._locks.hold(_document_key(filter)):
            return await self._collection.update_one(filter, *args, **kwargs)

    async def find_one_and_update(self, filter: Document, *args: Any, **kwargs: Any) -> Any:
        async with self._locks.hold(_document_key(filter)):
            return await self._collection.find_one_and_update(filter, *args, **kwargs)


def _document_key(filter: Document) -> Any:
    identity = filter.get("_id")
    # A filter on something other than one _id value (rare here) shares one collection-wide key.
    return identity if isinstance(identity, str | int) else ("<collection>",)


def serialised_writes(collection: AsyncCollection[Document]) -> AsyncCollection[Document]:
    """``collection`` with updates of the same document taken one at a time in this process.

    FerretDB 1.24 applies an update as read-modify-write without isolation: two concurrent
    updates of one document both match and the later write-back drops the other's change (seen
    here: the outbox relay's ``$pullAll`` racing a save lost whole events, and two conditional
    updates on the same version both matched). Every writer of an aggregate in ilrflow lives in
    the service's own process (HTTP, consumers, relay), so serialising per document in-process
    closes the window. On MongoDB the updates are atomic anyway. Inserts need no lock: they never
    modify an existing document. Run one replica per service on FerretDB.
    """
    return cast(AsyncCollection[Document], _SerialisedWrites(collection))
