"""The trackers list's rows: one small document per tracker holding only what a list filters and
sorts by.

Why: FerretDB 1.24 on SQLite sends no filter but ``_id`` and no sort to SQL, so a list query
decodes every tracker document and sorts them in memory. A tracker is ~1.2 KB (preview, history,
outbox) and decoding it is most of the cost: with 1,000 trackers a page took ~300 ms over the
tracker documents. The page is chosen on these rows, and its trackers are read by ``_id`` (the
one lookup FerretDB sends to SQL), concurrently: 4.4 times faster side by side (docs/benchmark.md).

The tracker document stays the truth; a row is derived from it. After every write the
repository re-reads the tracker and ``refresh``es its row, guarded by the tracker's version so a
slower refresh of an older version never overwrites a newer row. A process that dies between
the tracker write and the row write leaves the row behind: ``repair``, run at start-up, compares
every tracker with its row and refreshes those that differ (the restarted process repairs what
it left).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.mongo import Document, newest_first_after

ROWS = "tracker_rows"
# Every field a list filters or sorts by (see repository._query), and the version that guards.
ROW_FIELDS = (
    "tenant",
    "id",
    "raised_at",
    "status",
    "tracker_type",
    "allocated_to",
    "learner_id",
    "learner_group",
    "raised_by",
    "version",
)
NEWEST_FIRST = [("raised_at", -1), ("id", -1)]
DUPLICATE_KEY = 11000
REPAIR_BATCH = 100  # documents per insert_many: FerretDB answers these fast


def row_of(tracker_document: Document) -> Document:
    return {"_id": tracker_document["_id"], **{f: tracker_document.get(f) for f in ROW_FIELDS}}


class TrackerRows:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.rows: AsyncCollection[Document] = serialised_writes(db[ROWS])

    async def ensure_indexes(self) -> None:
        await self.rows.create_index([("tenant", 1), ("raised_at", -1), ("id", -1)])
        for field in ("allocated_to", "learner_id", "status", "learner_group"):
            await self.rows.create_index([("tenant", 1), (field, 1), ("raised_at", -1)])

    async def page_ids(
        self, query: Document, after: tuple[datetime, str] | None, limit: int
    ) -> list[Any]:
        """The ``_id``s of the trackers matching ``query``, newest first, after the cursor."""
        cursor = (
            self.rows.find(query | newest_first_after(after, "raised_at", "id"), {"_id": 1})
            .sort(NEWEST_FIRST)
            .limit(limit)
        )
        return [row["_id"] async for row in cursor]

    async def refresh_from(self, trackers: AsyncCollection[Document], identity: Any) -> None:
        """Re-read the tracker and bring its row up to it."""
        projection = dict.fromkeys(ROW_FIELDS, 1)
        document = await trackers.find_one({"_id": identity}, projection)
        if document is not None:
            await self.refresh(document)

    async def refresh(self, tracker_document: Document) -> None:
        row = row_of(tracker_document)
        identity, version = row["_id"], row["version"]
        changes = {k: v for k, v in row.items() if k != "_id"}
        while True:
            existing = await self.rows.find_one({"_id": identity}, {"version": 1})
            if existing is None:
                try:
                    await self.rows.insert_one(row)
                    return
                except DuplicateKeyError:
                    continue  # a concurrent refresh inserted it: compare versions with that one
            if existing["version"] > version:
                return  # a newer version's row is there already
            # The same version is written again: a learner's move changes the group without a
            # new version.
            done = await self.rows.update_one(
                {"_id": identity, "version": {"$lte": version}}, {"$set": changes}
            )
            if done.matched_count == 1:
                return

    async def repair(self, trackers: AsyncCollection[Document]) -> int:
        """Refresh every row that differs from its tracker; returns how many. Missing rows (a
        first start after an upgrade: all of them) are inserted in bulk."""
        rows = {row["_id"]: row async for row in self.rows.find({})}
        missing: list[Document] = []
        stale: list[Document] = []
        async for document in trackers.find({}, dict.fromkeys(ROW_FIELDS, 1)):
            row = row_of(document)
            if document["_id"] not in rows:
                missing.append(row)
            elif rows[document["_id"]] != row:
                stale.append(document)
        for start in range(0, len(missing), REPAIR_BATCH):
            try:
                await self.rows.insert_many(missing[start : start + REPAIR_BATCH], ordered=False)
            except BulkWriteError as error:
                # A live write inserted some meanwhile (theirs are as new or newer): only a
                # duplicate is expected.
                if any(e.get("code") != DUPLICATE_KEY for e in error.details["writeErrors"]):
                    raise
        for document in stale:
            await self.refresh(document)
        return len(missing) + len(stale)
