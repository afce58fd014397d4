"""MongoDB persistence of API clients; every write carries its outbox events (the client's
changes and each token issued or refused), so the audit log hears of every use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from ilrflow.contracts.events import Envelope
from ilrflow.learner.domain.clients import ApiClient
from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.mongo import Document
from ilrflow.platform.outbox import merge_updates, new_document_outbox, outbox_update

_FIELDS = tuple(ApiClient.__dataclass_fields__)


class ApiClientRepository:
    """One document per client, keyed by the client id alone: a token request names no tenant."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.clients: AsyncCollection[Document] = serialised_writes(db["api_clients"])

    @property
    def outbox_collections(self) -> list[AsyncCollection[Document]]:
        return [self.clients]

    async def ensure_indexes(self) -> None:
        await self.clients.create_index([("tenant", 1)])

    async def add(self, client: ApiClient, events: Sequence[Envelope[Any]]) -> None:
        await self.clients.insert_one(
            {"_id": client.id, **_fields(client), **new_document_outbox(events)}
        )

    async def get(self, client_id: str) -> ApiClient | None:
        document = await self.clients.find_one({"_id": client_id})
        return None if document is None else _client(document)

    async def list_for_tenant(self, tenant: str, after: str | None, limit: int) -> list[ApiClient]:
        query: Document = {"tenant": tenant}
        if after is not None:
            query["_id"] = {"$gt": after}
        found = self.clients.find(query).sort("_id", 1).limit(limit)
        return [_client(document) async for document in found]

    async def update(
        self, client_id: str, changes: Mapping[str, Any], events: Sequence[Envelope[Any]]
    ) -> None:
        """Set only the fields that changed, so that two changes at once (a token issued while
        the secret is rotated, a rotation while the client is revoked) do not undo each other."""
        update = merge_updates({"$set": dict(changes)} if changes else {}, outbox_update(events))
        await self.clients.update_one({"_id": client_id}, update)


def _fields(client: ApiClient) -> Document:
    fields = asdict(client)
    fields["scopes"] = list(client.scopes)
    return fields


def _client(document: Document) -> ApiClient:
    fields: dict[str, Any] = {name: document.get(name) for name in _FIELDS}
    fields["scopes"] = tuple(document["scopes"])
    return ApiClient(**fields)
