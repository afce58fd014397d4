"""The one MongoDB client factory (PyMongo's async API; works on MongoDB 7+ and FerretDB 1.24)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

from bson.int64 import Int64
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.results import UpdateResult

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


def plain(value: Any) -> Any:
    """``value`` as read from the database, in the plain Python types the code writes: a BSON
    ``Int64`` (what a number beyond 32 bits, such as a ULN, comes back as) becomes an ``int``, a
    datetime without tzinfo becomes UTC-aware, and dicts and lists are rebuilt as such."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, Int64):
        return int(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


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


WriteListener = Callable[[Any, Document], None]


class _SerialisedWrites:
    """A collection whose single-document updates of one document run one at a time."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        self._locks = _DocumentLocks()
        self._listeners: list[WriteListener] = []
        self._ferretdb: bool | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    def add_write_listener(self, listener: WriteListener) -> None:
        """Call ``listener(_id, update or inserted document)`` after each successful write."""
        self._listeners.append(listener)

    async def insert_one(self, document: Document, *args: Any, **kwargs: Any) -> Any:
        result = await self._collection.insert_one(document, *args, **kwargs)
        self._tell(document.get("_id"), document)
        return result

    async def insert_many(self, documents: list[Document], *args: Any, **kwargs: Any) -> Any:
        try:
            return await self._collection.insert_many(documents, *args, **kwargs)
        finally:  # some may be stored even when others fail: telling too much is harmless
            for document in documents:
                self._tell(document.get("_id"), document)

    async def update_one(self, filter: Document, update: Any, *args: Any, **kwargs: Any) -> Any:
        key = _document_key(filter)
        async with self._locks.hold(key):
            result = await self._conditional_update(filter, update, *args, **kwargs)
            if result is None:
                result = await self._collection.update_one(filter, update, *args, **kwargs)
        if isinstance(update, dict) and result.matched_count + (result.upserted_id is not None):
            self._tell(filter.get("_id"), update)
        return result

    async def replace_one(
        self, filter: Document, replacement: Document, *args: Any, **kwargs: Any
    ) -> Any:
        async with self._locks.hold(_document_key(filter)):
            result = await self._collection.replace_one(filter, replacement, *args, **kwargs)
        if result.matched_count + (result.upserted_id is not None):
            self._tell(filter.get("_id"), replacement)
        return result

    async def find_one_and_update(self, filter: Document, *args: Any, **kwargs: Any) -> Any:
        async with self._locks.hold(_document_key(filter)):
            return await self._collection.find_one_and_update(filter, *args, **kwargs)

    async def _conditional_update(
        self, filter: Document, update: Any, *args: Any, **kwargs: Any
    ) -> UpdateResult | None:
        """On FerretDB, ``{_id: x, <conditions>}``: read by ``_id`` and check the conditions
        here, then update by ``_id`` alone. FerretDB 1.24 on SQLite pushes only a filter that is
        exactly ``{_id: <string>}`` down to SQL; with any other condition the update reads and
        decodes every document of the collection. Safe because every writer of the document
        holds this lock (see ``serialised_writes``). None: not applicable, use the plain update.
        """
        identity = filter.get("_id")
        conditions = {k: v for k, v in filter.items() if k != "_id"}
        if not conditions or not isinstance(identity, str) or kwargs.get("upsert") or args:
            return None
        if not await self._is_ferretdb():
            return None
        current = await self._collection.find_one({"_id": identity})
        if current is None:
            return UpdateResult({"n": 0, "nModified": 0}, acknowledged=True)
        matched = matches(current, conditions)
        if matched is None:
            return None
        if not matched:
            return UpdateResult({"n": 0, "nModified": 0}, acknowledged=True)
        return await self._collection.update_one({"_id": identity}, update, **kwargs)

    async def _is_ferretdb(self) -> bool:
        if self._ferretdb is None:
            build = await self._collection.database.client.admin.command("buildInfo")
            self._ferretdb = "ferretdbVersion" in build
        return self._ferretdb

    def _tell(self, identity: Any, change: Document) -> None:
        for listener in self._listeners:
            listener(identity, change)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "$lt": lambda a, b: bool(a < b),
    "$lte": lambda a, b: bool(a <= b),
    "$gt": lambda a, b: bool(a > b),
    "$gte": lambda a, b: bool(a >= b),
}


def matches(document: Document, conditions: Document) -> bool | None:
    """Whether ``document`` matches a filter of top-level fields compared with a scalar by
    equality, ``$ne`` or ``$lt/$lte/$gt/$gte`` (numbers), with MongoDB's semantics for arrays
    and missing fields. None when the filter uses anything else (let the server decide)."""
    for field, condition in conditions.items():
        if field.startswith("$") or "." in field:
            return None
        value = document.get(field)
        if isinstance(condition, dict):
            if not condition or not all(op.startswith("$") for op in condition):
                return None
            for op, target in condition.items():
                outcome = _operator(op, value, target)
                if outcome is None:
                    return None
                if not outcome:
                    return False
        else:
            outcome = _equals(value, condition)
            if outcome is None:
                return None
            if not outcome:
                return False
    return True


def _operator(op: str, value: Any, target: Any) -> bool | None:
    if op == "$eq":
        return _equals(value, target)
    if op == "$ne":
        equal = _equals(value, target)
        return None if equal is None else not equal
    if op in _COMPARISONS and _is_number(value) and _is_number(target):
        return _COMPARISONS[op](value, target)
    return None


def _equals(value: Any, target: Any) -> bool | None:
    """MongoDB equality against a scalar: an array matches if one element does; None matches a
    missing field. Sub-documents, arrays as targets and mixed bool/number are left to the server."""
    if isinstance(target, dict | list | tuple):
        return None
    if isinstance(value, list):
        return any(_scalar_equals(item, target) for item in value)
    return _scalar_equals(value, target)


def _scalar_equals(value: Any, target: Any) -> bool:
    if isinstance(value, bool) != isinstance(target, bool):
        return False
    if _is_number(value) and _is_number(target):
        return bool(value == target)
    return type(value) is type(target) and bool(value == target)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def add_write_listener(collection: AsyncCollection[Document], listener: WriteListener) -> bool:
    """Have ``listener`` told of each write to a ``serialised_writes`` collection; False (and
    nothing done) for any other collection."""
    if not isinstance(collection, _SerialisedWrites):
        return False
    collection.add_write_listener(listener)
    return True


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

    The same lock makes a conditional update cheap on FerretDB: it is done as a read by
    ``_id``, the check here, and an update by ``_id`` (see ``_conditional_update``).
    """
    return cast(AsyncCollection[Document], _SerialisedWrites(collection))
