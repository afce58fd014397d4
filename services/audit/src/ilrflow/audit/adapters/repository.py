"""MongoDB persistence of the audit log: insert-only. This module has no update or delete path
for audit entries.

Entries are keyed by ``<topic>:<partition>:<offset>``, so storing a redelivered record is a no-op.
Beside the log it keeps three small collections, each read only by ``_id`` (FerretDB 1.24 on
SQLite pushes nothing else down to the backend, so any other filter reads the whole collection):

- ``audit_chain_tails``: per partition, the offset and hash of the newest stored entry. It is the
  chain head for the next batch and the tail that verification expects to find.
- ``audit_event_ids``: per (topic, event id), the entry that first carried it; inserting a claim
  that exists already is how a duplicate delivery is recognised without a query.
- ``audit_learner_timelines``: per (tenant, learner), the lines of the learner's timeline.

And ``audit_reads``: one document per audited read, carrying its ``AuditAccessed`` event in an
outbox until the relay has published it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from ilrflow.audit.domain.query import RECOMMENDED_INDEXES
from ilrflow.audit.domain.records import AuditEntry, RecordCoordinates
from ilrflow.audit.domain.timeline import TimelineLine
from ilrflow.audit.domain.verify import ChainTail
from ilrflow.shared.events import Envelope
from ilrflow.shared.mongo import Document, serialised_writes
from ilrflow.shared.outbox import new_document_outbox

DUPLICATE_KEY = 11000
PartitionKey = tuple[str, int]


class AlreadyStoredError(Exception):
    """An entry of the batch is stored already: the recorded chain head was behind."""


class AuditRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.entries: AsyncCollection[Document] = db["audit_entries"]
        self.tails: AsyncCollection[Document] = db["audit_chain_tails"]
        self.event_ids: AsyncCollection[Document] = db["audit_event_ids"]
        self.timelines: AsyncCollection[Document] = db["audit_learner_timelines"]
        # Wrapped so that the outbox relay hears of each read instead of scanning for them.
        self.reads: AsyncCollection[Document] = serialised_writes(db["audit_reads"])

    async def ensure_indexes(self) -> None:
        """The query indexes, on MongoDB. FerretDB 1.24's SQLite backend never uses a secondary
        index to answer a query (explain: ``filterPushdown: false``, ``SCAN``) while every insert
        pays for it, so there the log is read through the ``_id``-keyed collections instead."""
        if await self.is_ferretdb():
            return
        for keys in RECOMMENDED_INDEXES:
            await self.entries.create_index(keys)

    async def is_ferretdb(self) -> bool:
        build = await self.entries.database.client.admin.command("buildInfo")
        return "ferretdbVersion" in build

    # --- the chain -------------------------------------------------------------------------

    async def recorded_tail(self, topic: str, partition: int) -> ChainTail | None:
        found = await self.tails.find_one({"_id": _partition_id(topic, partition)})
        return None if found is None else ChainTail(int(found["offset"]), str(found["hash"]))

    async def stored_head(self, topic: str, partition: int) -> ChainTail | None:
        """The newest stored entry of the partition, read from the log itself (slow: a scan)."""
        found = await self.entries.find_one(
            {"topic": topic, "partition": partition},
            {"offset": 1, "hash": 1},
            sort=[("offset", DESCENDING)],
        )
        return None if found is None else ChainTail(int(found["offset"]), str(found["hash"]))

    async def record_tail(self, topic: str, partition: int, tail: ChainTail) -> None:
        await self.tails.update_one(
            {"_id": _partition_id(topic, partition)},
            {"$set": {"topic": topic, "partition": partition, **tail._asdict()}},
            upsert=True,
        )

    async def all_recorded_tails(self) -> dict[PartitionKey, ChainTail]:
        return {
            (d["topic"], int(d["partition"])): ChainTail(int(d["offset"]), str(d["hash"]))
            async for d in self.tails.find({})
        }

    async def insert(self, entries: Sequence[AuditEntry]) -> int:
        """Insert chained entries in offset order; raise AlreadyStoredError if one is there."""
        if not entries:
            return 0
        try:
            result = await self.entries.insert_many([to_document(e) for e in entries], ordered=True)
        except BulkWriteError as error:
            if _only_duplicates(error):
                raise AlreadyStoredError(str(error)) from error
            raise
        return len(result.inserted_ids)

    # --- duplicate deliveries --------------------------------------------------------------

    async def claim_event_ids(self, entries: Sequence[AuditEntry]) -> dict[str, RecordCoordinates]:
        """Claim each entry's (topic, event id) for it; return the claims that others hold."""
        claims: dict[str, AuditEntry] = {}
        for entry in entries:
            if entry.event_id:
                claims.setdefault(_claim_id(entry.topic, entry.event_id), entry)
        if not claims:
            return {}
        documents = [_claim(claim_id, e) for claim_id, e in claims.items()]
        try:
            await self.event_ids.insert_many(documents, ordered=False)
            return {}
        except BulkWriteError as error:
            if not _only_duplicates(error):
                raise
            taken = [documents[e["index"]]["_id"] for e in error.details["writeErrors"]]
        return {
            d["event_id"]: RecordCoordinates(d["topic"], int(d["partition"]), int(d["offset"]))
            async for d in self.event_ids.find({"_id": {"$in": taken}})
        }

    # --- the learner timelines -------------------------------------------------------------

    async def add_timeline_lines(
        self, lines: Mapping[tuple[str, str], Iterable[TimelineLine]]
    ) -> None:
        """Append lines to learners' timelines. A replay after a crash may append a line twice;
        ``timeline`` drops the repeat (``$addToSet`` would, but costs FerretDB far more)."""
        for (tenant, learner_id), learner_lines in lines.items():
            await self.timelines.update_one(
                {"_id": _learner_key(tenant, learner_id)},
                {
                    "$set": {"tenant": tenant, "learner_id": learner_id},
                    "$push": {"lines": {"$each": [_line_document(x) for x in learner_lines]}},
                },
                upsert=True,
            )

    async def timeline(self, tenant: str, learner_id: str) -> list[TimelineLine]:
        """The learner's lines, oldest first; one lookup by ``_id``, the one FerretDB pushes down."""
        found = await self.timelines.find_one(timeline_filter(tenant, learner_id))
        lines = {
            d["entry_id"]: TimelineLine(d["time"], d["entry_id"], d["text"])
            for d in (found or {}).get("lines", [])
        }
        return sorted(lines.values(), key=lambda line: (line.time, line.entry_id))

    async def explain_timeline(self, tenant: str, learner_id: str) -> Document:
        command = {"find": self.timelines.name, "filter": timeline_filter(tenant, learner_id)}
        return await self.timelines.database.command({"explain": command})

    async def explain_find(
        self, query: Document, sort: list[tuple[str, int]], limit: int
    ) -> Document:
        command = {"find": self.entries.name, "filter": query, "sort": dict(sort), "limit": limit}
        return await self.entries.database.command({"explain": command})

    # --- reading the log -------------------------------------------------------------------

    async def find(
        self, query: Document, sort: list[tuple[str, int]], limit: int
    ) -> list[AuditEntry]:
        cursor = self.entries.find(query).sort(sort).limit(limit)
        return [from_document(d) async for d in cursor]

    async def get(self, tenant: str | None, entry_id: str) -> AuditEntry | None:
        # Looked up by _id alone (pushed down on FerretDB); the tenant is checked here.
        document = await self.entries.find_one({"_id": entry_id})
        if document is None or (tenant is not None and document.get("tenant") != tenant):
            return None
        return from_document(document)

    async def partition_entries(self, topic: str, partition: int) -> list[AuditEntry]:
        cursor = self.entries.find({"topic": topic, "partition": partition}).sort("offset", 1)
        return [from_document(d) async for d in cursor]

    async def partitions(self) -> list[PartitionKey]:
        topics = await self.entries.distinct("topic")
        found = []
        for topic in topics:
            for partition in await self.entries.distinct("partition", {"topic": topic}):
                found.append((str(topic), int(partition)))
        return sorted(found)

    # --- audited reads ---------------------------------------------------------------------

    async def record_read(self, event: Envelope[Any]) -> None:
        """Store the read with its event in an outbox; the relay publishes it to audit-access."""
        await self.reads.insert_one(
            {
                "_id": event.id,
                "tenant": event.tenant,
                "at": event.time,
                **new_document_outbox([event]),
            }
        )


def timeline_filter(tenant: str, learner_id: str) -> Document:
    return {"_id": _learner_key(tenant, learner_id)}


def to_document(entry: AuditEntry) -> Document:
    document: dict[str, Any] = entry.model_dump(mode="python")
    document["_id"] = entry.id  # `id` stays too: the keyset cursor sorts on it
    return document


def from_document(document: Document) -> AuditEntry:
    return AuditEntry.model_validate({k: v for k, v in document.items() if k != "_id"})


def _only_duplicates(error: BulkWriteError) -> bool:
    return all(e.get("code") == DUPLICATE_KEY for e in error.details.get("writeErrors", []))


def _partition_id(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def _claim_id(topic: str, event_id: str | None) -> str:
    return f"{topic}\x1f{event_id}"


def _claim(claim_id: str, entry: AuditEntry) -> Document:
    return {
        "_id": claim_id,
        "event_id": entry.event_id,
        "topic": entry.topic,
        "partition": entry.partition,
        "offset": entry.offset,
    }


def _learner_key(tenant: str, learner_id: str) -> str:
    return f"{tenant}\x1f{learner_id}"


def _line_document(line: TimelineLine) -> Document:
    return {"time": line.time, "entry_id": line.entry_id, "text": line.text}
