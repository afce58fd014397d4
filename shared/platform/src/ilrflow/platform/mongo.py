"""The one MongoDB client factory (PyMongo's async API; works on MongoDB 7+ and FerretDB 1.24).

What FerretDB 1.24 needs on top lives in one named module, ``ilrflow.platform.ferretdb``.
"""

from __future__ import annotations

from typing import Any

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


async def ping(client: AsyncMongoClient[Document]) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:
        return False
    return True
