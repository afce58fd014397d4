"""A database of its own on the real MongoDB-wire server (ILRFLOW_MONGO_URL) for each test."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from ilrflow.platform.mongo import Document
from ilrflow.platform.settings import get_settings


@pytest.fixture
async def database() -> AsyncIterator[Any]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/"), retryWrites=False
    )
    name = f"itest{secrets.token_hex(3)}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


@pytest.fixture
def emulated_conditional_updates(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``serialised_writes`` emulating conditional updates with write locks (as on SQLite-backed
    FerretDB) whatever the server's backend, for tests of the emulation itself."""
    monkeypatch.setenv("ILRFLOW_FERRETDB_BACKEND", "sqlite")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
