"""A database of its own on the real MongoDB-wire server (ILRFLOW_MONGO_URL) for each test."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from ilrflow.platform.mongo import Document


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
