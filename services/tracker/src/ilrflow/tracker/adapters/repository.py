"""MongoDB persistence of trackers and tenant tracker settings.

A tracker document is the aggregate's own form plus its outbox; saving checks the version the
use case loaded, so two admins acting at once cannot overwrite each other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ilrflow.contracts.events import Envelope
from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.idempotency import mark_applied, not_yet_applied
from ilrflow.platform.logging import get_logger
from ilrflow.platform.mongo import Document
from ilrflow.platform.outbox import (
    OUTBOX_FIELD,
    PENDING_FIELD,
    merge_updates,
    new_document_outbox,
    outbox_update,
)
from ilrflow.tracker.adapters.tracker_rows import TrackerRows
from ilrflow.tracker.domain.policy import TenantTrackerSettings
from ilrflow.tracker.domain.tracker import Tracker

log = get_logger(__name__)

LEARNER_GROUP = "learner_group"
# How long a tenant's settings read from the database are used before reading them again: the
# longest another replica's change takes to be seen here (this process's own are seen at once).
SETTINGS_CACHE_SECONDS = 5.0
# The fingerprint of the request that raised a tracker with an Idempotency-Key.
REQUEST_FINGERPRINT = "request_fingerprint"


def doc_id(tenant: str, tracker_id: str) -> str:
    return f"{tenant}:{tracker_id}"


@dataclass(frozen=True)
class TrackerFilter:
    status: str | None = None
    tracker_type: str | None = None
    allocated_to: str | None = None
    learner_id: str | None = None
    group: str | None = None
    raised_from: datetime | None = None
    raised_to: datetime | None = None
    visible_groups: list[str] | None = None
    visible_to_learner: str | None = None


class TrackerRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        # The relay gets this same object, so its writes queue behind commands' saves.
        self.trackers: AsyncCollection[Document] = serialised_writes(db["trackers"])
        self.settings: AsyncCollection[Document] = serialised_writes(db["tracker_settings"])
        self.rows = TrackerRows(db)
        # tenant -> (settings, version, when read)
        self._settings_cache: dict[str, tuple[TenantTrackerSettings, int, float]] = {}

    async def ensure_indexes(self) -> None:
        # Lists are chosen on the rows; a learner's move still finds their trackers here.
        await self.trackers.create_index([("tenant", 1), ("learner_id", 1)])
        await self.rows.ensure_indexes()

    async def repair_rows(self) -> None:
        repaired = await self.rows.repair(self.trackers)
        if repaired:
            log.info("tracker list rows repaired", rows=repaired)

    # --- trackers -------------------------------------------------------------------------

    async def add(
        self, tracker: Tracker, events: Sequence[Envelope[Any]], fingerprint: str | None = None
    ) -> bool:
        """Insert a new tracker with its events; False if its id is taken (an idempotent raise
        that a concurrent retry stored first). ``fingerprint`` identifies the raising request."""
        document = self._document(tracker) | new_document_outbox(events)
        if fingerprint is not None:
            document[REQUEST_FINGERPRINT] = fingerprint
        try:
            await self.trackers.insert_one(document)
        except DuplicateKeyError:
            return False
        await self.rows.added(document)
        return True

    async def get_with_fingerprint(
        self, tenant: str, tracker_id: str
    ) -> tuple[Tracker, str] | None:
        """The tracker and the fingerprint of the request that raised it ("" when raised
        without an idempotency key)."""
        document = await self.trackers.find_one({"_id": doc_id(tenant, tracker_id)})
        if document is None:
            return None
        return _from_document(document), str(document.get(REQUEST_FINGERPRINT, ""))

    async def get(self, tenant: str, tracker_id: str) -> Tracker | None:
        document = await self.trackers.find_one({"_id": doc_id(tenant, tracker_id)})
        return None if document is None else _from_document(document)

    async def save(
        self,
        tracker: Tracker,
        loaded_version: int,
        events: Sequence[Envelope[Any]],
        applied_event_id: str | None = None,
    ) -> bool:
        """Store the tracker if it is still at ``loaded_version``; False if someone got there
        first (or, for a consumer, the event was applied before)."""
        query: Document = {"_id": doc_id(tracker.tenant, tracker.id), "version": loaded_version}
        # The learner's group is move_learner's to write: a save racing a move keeps the move.
        written = {k: v for k, v in self._document(tracker).items() if k != LEARNER_GROUP}
        update = merge_updates({"$set": written}, outbox_update(events))
        if applied_event_id is not None:
            query.update(not_yet_applied(applied_event_id))
            update = merge_updates(update, mark_applied(applied_event_id))
        result = await self.trackers.update_one(query, update)
        if result.matched_count != 1:
            return False
        await self.rows.saved(self._document(tracker))
        return True

    async def find(
        self, tenant: str, where: TrackerFilter, after: tuple[datetime, str] | None, limit: int
    ) -> list[Tracker]:
        """Chosen on the small list rows, read by ``_id`` (see ``tracker_rows``)."""
        identities = await self.rows.page_ids(_query(tenant, where), after, limit)
        found = await asyncio.gather(*(self.trackers.find_one({"_id": i}) for i in identities))
        return [_from_document(document) for document in found if document is not None]

    async def move_learner(self, tenant: str, learner_id: str, group: str | None) -> None:
        # One update per tracker, by _id (a learner has a handful of trackers): our FerretDB
        # reads each by the _id index and locks that one document, where an update_many would
        # read the whole collection and lock all of it.
        moving = self.trackers.find(
            {"tenant": tenant, "learner_id": learner_id, LEARNER_GROUP: {"$ne": group}},
            {"_id": 1},
        )
        async for document in moving:
            await self.trackers.update_one(
                {"_id": document["_id"]}, {"$set": {LEARNER_GROUP: group}}
            )
            await self.rows.moved(document["_id"], group)

    def _document(self, tracker: Tracker) -> Document:
        document = tracker.to_document()
        document["id"] = document["_id"]  # kept beside _id: the keyset cursor sorts on it
        document["_id"] = doc_id(tracker.tenant, tracker.id)
        return document

    # --- tenant settings ------------------------------------------------------------------

    async def get_settings(self, tenant: str) -> tuple[TenantTrackerSettings, int]:
        """From this process's cache when read in the last ``SETTINGS_CACHE_SECONDS``: every
        command and list reads the settings, and they change rarely. This process's own saves
        update the cache at once; another replica's change is seen when the entry expires."""
        cached = self._settings_cache.get(tenant)
        if cached is not None and time.monotonic() - cached[2] < SETTINGS_CACHE_SECONDS:
            return cached[0], cached[1]
        return await self.get_current_settings(tenant)

    async def get_current_settings(self, tenant: str) -> tuple[TenantTrackerSettings, int]:
        document = await self.settings.find_one({"_id": tenant}, {"settings": 1, "version": 1})
        if document is None:
            return TenantTrackerSettings(), 0
        settings = TenantTrackerSettings.model_validate(document["settings"])
        version = int(document["version"])
        self._remember_settings(tenant, settings, version)
        return settings, version

    async def save_settings(
        self,
        tenant: str,
        settings: TenantTrackerSettings,
        loaded_version: int,
        events: Sequence[Envelope[Any]],
    ) -> bool:
        body = {"settings": settings.model_dump(mode="json"), "version": loaded_version + 1}
        if loaded_version == 0:
            try:
                await self.settings.insert_one(
                    {"_id": tenant, **body} | new_document_outbox(events)
                )
            except DuplicateKeyError:
                return False
        else:
            replaced = await self.settings.update_one(
                {"_id": tenant, "version": loaded_version},
                merge_updates({"$set": body}, outbox_update(events)),
            )
            if replaced.matched_count != 1:
                self._settings_cache.pop(tenant, None)  # stale: the next read goes to the database
                return False
        self._remember_settings(tenant, settings, loaded_version + 1)
        return True

    def _remember_settings(
        self, tenant: str, settings: TenantTrackerSettings, version: int
    ) -> None:
        self._settings_cache[tenant] = (settings, version, time.monotonic())


def _from_document(document: Document) -> Tracker:
    stored_beside = (OUTBOX_FIELD, PENDING_FIELD, REQUEST_FINGERPRINT)
    fields = {k: v for k, v in document.items() if k not in stored_beside}
    fields["_id"] = document["id"]
    return Tracker.from_document(fields)


def _query(tenant: str, where: TrackerFilter) -> Document:
    query: Document = {"tenant": tenant}
    equalities = {
        "status": where.status,
        "tracker_type": where.tracker_type,
        "allocated_to": where.allocated_to,
        "learner_id": where.learner_id,
    }
    query.update({k: v for k, v in equalities.items() if v is not None})
    groups = where.visible_groups
    if where.group is not None:
        groups = [where.group] if groups is None or where.group in groups else []
    if groups is not None:
        query["learner_group"] = {"$in": groups}
    if where.visible_to_learner is not None:
        query["$and"] = [
            {
                "$or": [
                    {"learner_id": where.visible_to_learner},
                    {"raised_by": where.visible_to_learner},
                ]
            }
        ]
    window: Document = {}
    if where.raised_from is not None:
        window["$gte"] = where.raised_from
    if where.raised_to is not None:
        window["$lt"] = where.raised_to
    if window:
        query["raised_at"] = window
    return query
