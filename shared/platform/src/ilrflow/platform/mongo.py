"""The one MongoDB client factory (PyMongo's async API; works on MongoDB 7+ and FerretDB 1.24).

What FerretDB 1.24 needs on top lives in one named module, ``ilrflow.platform.ferretdb``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson.int64 import Int64
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from ilrflow.platform.settings import Settings

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


def newest_first_after(after: tuple[datetime, str] | None, at: str, id_field: str) -> Document:
    """The filter of a newest-first keyset page (sorted by ``at`` then ``id_field``, both
    descending): the documents after the one whose key is ``after`` (none: every document)."""
    if after is None:
        return {}
    at_value, id_value = after
    return {"$or": [{at: {"$lt": at_value}}, {at: at_value, id_field: {"$lt": id_value}}]}
