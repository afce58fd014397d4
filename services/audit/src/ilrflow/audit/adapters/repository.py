"""MongoDB persistence of audit entries: insert-only. This module has no update or delete path.

Entries are keyed by ``<topic>:<partition>:<offset>``, so storing a redelivered record is a no-op.
The chain head of a partition is its stored entry with the highest offset, so there is no second
piece of state to keep consistent with the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from ilrflow.audit.domain.query import RECOMMENDED_INDEXES
from ilrflow.audit.domain.records import AuditEntry, RecordCoordinates
from ilrflow.shared.mongo import Document

DUPLICATE_KEY = 11000


class AuditRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.entries: AsyncCollection[Document] = db["audit_entries"]

    async def ensure_indexes(self) -> None:
        for keys in RECOMMENDED_INDEXES:
            await self.entries.create_index(keys)

    async def chain_head(self, topic: str, partition: int) -> tuple[int, str] | None:
        """(offset, hash) of the newest stored entry of the partition, or None if it has none."""
        found = await self.entries.find_one(
            {"topic": topic, "partition": partition},
            {"offset": 1, "hash": 1},
            sort=[("offset", DESCENDING)],
        )
        return None if found is None else (int(found["offset"]), str(found["hash"]))

    async def coordinates_by_event_id(
        self, topic: str, event_ids: Sequence[str]
    ) -> dict[str, list[RecordCoordinates]]:
        """Where each of these event ids is already stored on ``topic``."""
        found: dict[str, list[RecordCoordinates]] = {}
        if not event_ids:
            return found
        cursor = self.entries.find(
            {"event_id": {"$in": list(event_ids)}, "topic": topic},
            {"event_id": 1, "topic": 1, "partition": 1, "offset": 1},
        )
        async for d in cursor:
            coordinates = RecordCoordinates(d["topic"], int(d["partition"]), int(d["offset"]))
            found.setdefault(d["event_id"], []).append(coordinates)
        return found

    async def insert(self, entries: Sequence[AuditEntry]) -> int:
        """Insert in offset order; entries stored before (a redelivery) are skipped."""
        if not entries:
            return 0
        documents = [to_document(e) for e in entries]
        try:
            result = await self.entries.insert_many(documents, ordered=True)
            return len(result.inserted_ids)
        except BulkWriteError as error:
            if any(e.get("code") != DUPLICATE_KEY for e in error.details.get("writeErrors", [])):
                raise
            return int(error.details.get("nInserted", 0))

    async def find(
        self, query: Document, sort: list[tuple[str, int]], limit: int
    ) -> list[AuditEntry]:
        cursor = self.entries.find(query).sort(sort).limit(limit)
        return [from_document(d) async for d in cursor]

    async def get(self, tenant: str | None, entry_id: str) -> AuditEntry | None:
        query: Document = {"_id": entry_id}
        if tenant is not None:
            query["tenant"] = tenant
        document = await self.entries.find_one(query)
        return None if document is None else from_document(document)

    async def partition_entries(self, topic: str, partition: int) -> list[AuditEntry]:
        cursor = self.entries.find({"topic": topic, "partition": partition}).sort("offset", 1)
        return [from_document(d) async for d in cursor]

    async def partitions(self) -> list[tuple[str, int]]:
        topics = await self.entries.distinct("topic")
        found = []
        for topic in topics:
            for partition in await self.entries.distinct("partition", {"topic": topic}):
                found.append((str(topic), int(partition)))
        return sorted(found)


def to_document(entry: AuditEntry) -> Document:
    document: dict[str, Any] = entry.model_dump(mode="python")
    document["_id"] = entry.id  # `id` stays too: the keyset cursor sorts on it
    return document


def from_document(document: Document) -> AuditEntry:
    return AuditEntry.model_validate({k: v for k, v in document.items() if k != "_id"})
