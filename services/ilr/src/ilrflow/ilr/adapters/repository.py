"""MongoDB persistence of ILR records: one document per learner holding the current record, the
history entry of its current version and its outbox, so that every change is one atomic
single-document write; and one document per earlier version holding that version's history entry
(see ``ilrflow.ilr.domain.history`` for why the entries live where they do)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ilrflow.contracts.events import Envelope
from ilrflow.ilr.domain.history import HistorySources
from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.idempotency import (
    Delivered,
    RecordPosition,
    applied_marks,
    chain_copy_offset,
    chain_filter,
    chain_update,
    copy_offset_write,
    mark_applied,
    not_yet_applied,
    was_applied,
)
from ilrflow.platform.mongo import Document, plain
from ilrflow.platform.outbox import merge_updates, outbox_update


@dataclass
class IlrDocument:
    tenant: str
    learner_id: str
    version: int
    qa_verified: bool
    learner: dict[str, Any] | None
    group: str | None
    qa_verified_by: str | None = None
    applied: dict[str, Any] = field(default_factory=dict)  # ilrflow.platform.idempotency
    latest_history: dict[str, Any] | None = None
    embedded_history: list[dict[str, Any]] = field(default_factory=list)

    def has_applied(self, event_id: str) -> bool:
        """Whether the event (at the position of the record being handled) is applied."""
        return was_applied(self.applied, event_id)

    @property
    def history_sources(self) -> HistorySources:
        return HistorySources(self.version, self.latest_history, self.embedded_history)

    @classmethod
    def from_stored(cls, document: Document) -> IlrDocument:
        return cls(
            tenant=document["tenant"],
            learner_id=document["learner_id"],
            version=int(document["version"]),
            qa_verified=bool(document.get("qa_verified", False)),
            # As the engine wrote it (the ULN comes back as a BSON Int64), so that a patch
            # from it to the next version holds only what changed.
            learner=plain(document.get("learner")),
            group=document.get("group"),
            qa_verified_by=document.get("qa_verified_by"),
            applied=applied_marks(document),
            latest_history=document.get("latest_history"),
            # Records stored before the history moved out keep their old entries embedded.
            embedded_history=list(document.get("history", [])),
        )


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    actor: str
    at: datetime
    cause: str
    tracker_id: str | None
    outcome: str
    reason: str
    patch: list[dict[str, Any]]

    def to_document(self) -> Document:
        return {
            "version": self.version,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "cause": self.cause,
            "tracker_id": self.tracker_id,
            "outcome": self.outcome,
            "reason": self.reason,
            "patch": self.patch,
        }


def doc_id(tenant: str, learner_id: str) -> str:
    return f"{tenant}:{learner_id}"


def version_doc_id(tenant: str, learner_id: str, version: int) -> str:
    # Reads go by exact _id only: FerretDB 1.24 pushes nothing else down to SQL.
    return f"{doc_id(tenant, learner_id)}:v{version:06d}"


class IlrRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.records: AsyncCollection[Document] = serialised_writes(db["ilr_records"])
        self.versions: AsyncCollection[Document] = serialised_writes(db["ilr_versions"])

    async def ensure_indexes(self) -> None:
        await self.records.create_index([("tenant", 1), ("learner_id", 1)])

    async def get(self, tenant: str, learner_id: str) -> IlrDocument | None:
        document = await self.records.find_one({"_id": doc_id(tenant, learner_id)})
        return None if document is None else IlrDocument.from_stored(document)

    async def create_empty(self, tenant: str, learner_id: str, group: str | None) -> None:
        """Make sure the learner has a document (version 0, no record) to hold its outbox."""
        with suppress(DuplicateKeyError):  # it exists: that is all we wanted
            await self.records.insert_one(
                {
                    "_id": doc_id(tenant, learner_id),
                    "tenant": tenant,
                    "learner_id": learner_id,
                    "version": 0,
                    "qa_verified": False,
                    "learner": None,
                    "group": group,
                    "outbox": [],
                    "outbox_pending": 0,
                }
            )

    async def record_outcome(
        self,
        current: IlrDocument,
        *,
        event_id: str | None,
        new_learner: dict[str, Any] | None,
        history: HistoryEntry | None,
        events: Sequence[Envelope[Any]],
        extra: Document | None = None,
    ) -> bool:
        """Write the outcome of one change: optionally a new version, always the events, and the
        event id that caused it. False when the document moved on (or the event was applied).

        A new version first copies the current version's history entry out of the record (see
        ``ilrflow.ilr.domain.history``); a retry or a racing writer copies the same entry."""
        query: Document = {
            "_id": doc_id(current.tenant, current.learner_id),
            "version": current.version,
        }
        sets: Document = dict(extra or {})
        update: Document = {}
        if new_learner is not None and history is not None:
            await self._copy_out_latest_history(current)
            sets["learner"] = new_learner
            sets["latest_history"] = history.to_document()
            update = {"$inc": {"version": 1}}
        if sets:
            update = merge_updates(update, {"$set": sets})
        update = merge_updates(update, outbox_update(events))
        if event_id is not None:
            query.update(not_yet_applied(event_id))
            update = merge_updates(update, mark_applied(event_id))
        result = await self.records.update_one(query, update)
        return result.modified_count == 1

    async def record_outcomes(
        self,
        current: IlrDocument,
        *,
        applying: Sequence[Delivered[Any]],
        last: RecordPosition | None,
        new_learner: dict[str, Any] | None,
        histories: Sequence[HistoryEntry],
        events: Sequence[Envelope[Any]],
    ) -> bool:
        """Write the outcomes of a chain of events in one write of the record: the versions they
        made (``new_learner`` and one history entry each), their events, every one of them as
        applied and ``last`` as the partition's offset. False when the record moved on or one
        of them was applied, storing nothing of the record.

        The history entries of the versions the record leaves behind (its current one, then
        each new one but the last, which the record keeps) go to ``ilr_versions`` first, in one
        bulk write of replacements. A version document above the record's version is read by
        nobody (``history`` reads only below it) until the record's write moves past it; a
        crash before that write leaves it to be replaced by the redelivery, which decides the
        same trackers on the same record again."""
        query: Document = {
            "_id": doc_id(current.tenant, current.learner_id),
            "version": current.version,
            **chain_filter(applying),
        }
        update: Document = {}
        if new_learner is not None and histories:
            await self._copy_out_history(current, histories[:-1])
            sets = {"learner": new_learner, "latest_history": histories[-1].to_document()}
            update = {"$inc": {"version": len(histories)}, "$set": sets}
        update = merge_updates(update, outbox_update(events))
        update = merge_updates(update, chain_update(applying, last))
        result = await self.records.update_one(query, update)
        return result.modified_count == 1

    async def record_copies(self, record: IlrDocument, chain: Sequence[Delivered[Any]]) -> None:
        """For a chain whose events are all applied: record its last offset if an event id,
        not an offset, told it (``ilrflow.platform.idempotency.chain_copy_offset``)."""
        copy = chain_copy_offset(record.applied, chain)
        if copy is not None:
            conditions, update = copy
            identity = doc_id(record.tenant, record.learner_id)
            await self.records.update_one({"_id": identity, **conditions}, update)

    async def is_applied(self, record: IlrDocument, event_id: str) -> bool:
        """Whether the event is applied to ``record``; a copy of it (its id known, its offset
        not) gets its offset recorded, so that it is known by it when read again."""
        if not record.has_applied(event_id):
            return False
        copy = copy_offset_write(record.applied, event_id)
        if copy is not None:
            conditions, update = copy
            identity = doc_id(record.tenant, record.learner_id)
            await self.records.update_one({"_id": identity, **conditions}, update)
        return True

    async def history(self, record: IlrDocument) -> list[Document]:
        """Every version's history entry, oldest first."""
        sources = record.history_sources
        found = await asyncio.gather(
            *(
                self.versions.find_one({"_id": version_doc_id(record.tenant, record.learner_id, v)})
                for v in sources.stored_versions_needed()
            )
        )
        return [
            _history_entry(entry) for entry in sources.history(d for d in found if d is not None)
        ]

    async def _copy_out_latest_history(self, current: IlrDocument) -> None:
        entry = current.latest_history
        if entry is None:
            return
        version = int(entry["version"])
        await self.versions.replace_one(
            {"_id": version_doc_id(current.tenant, current.learner_id, version)},
            {"tenant": current.tenant, "learner_id": current.learner_id, **entry},
            upsert=True,
        )

    async def _copy_out_history(
        self, current: IlrDocument, new_entries: Sequence[HistoryEntry]
    ) -> None:
        entries = [e.to_document() for e in new_entries]
        if current.latest_history is not None:
            entries.insert(0, current.latest_history)
        if not entries:
            return
        await self.versions.bulk_write(
            [
                ReplaceOne(
                    {"_id": version_doc_id(current.tenant, current.learner_id, entry["version"])},
                    {"tenant": current.tenant, "learner_id": current.learner_id, **entry},
                    upsert=True,
                )
                for entry in entries
            ]
        )

    async def list_for_tenant(self, tenant: str) -> list[IlrDocument]:
        cursor = self.records.find({"tenant": tenant, "version": {"$gt": 0}}).sort("_id", 1)
        return [IlrDocument.from_stored(document) async for document in cursor]


def _history_entry(stored: Mapping[str, Any]) -> Document:
    return {k: v for k, v in stored.items() if k not in _VERSION_DOCUMENT_KEYS}


_VERSION_DOCUMENT_KEYS = frozenset({"_id", "tenant", "learner_id"})
