"""The trackers list's rows: one small document per tracker holding only what a list filters and
sorts by.

Why: FerretDB 1.24 on SQLite sends no filter but ``_id`` and no sort to SQL, so a list query
decodes every tracker document and sorts them in memory. A tracker is ~1.2 KB (preview, history,
outbox) and decoding it is most of the cost: with 1,000 trackers a page took ~300 ms over the
tracker documents. The page is chosen on these rows, and its trackers are read by ``_id`` (the
one lookup FerretDB sends to SQL), concurrently: 4.4 times faster side by side (docs/benchmark.md).

The tracker document stays the truth; a row is derived from it. After every write the
repository writes the row from the state it wrote (``added``, ``saved``, ``moved``), guarded by
the tracker's version so a slower write of an older version never overwrites a newer row: one
conditional update per tracker write. A process that dies between the tracker write and the row
write leaves the row behind: ``repair``, run at start-up, compares every tracker with its row
and mends those that differ (the restarted process repairs what it left).
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
LEARNER_GROUP = "learner_group"
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

    async def added(self, tracker_document: Document) -> None:
        await self._write(row_of(tracker_document), newer_than="$lt")

    async def saved(self, tracker_document: Document) -> None:
        """After a save, which leaves the learner's group alone (``moved`` writes that)."""
        await self._write(row_of(tracker_document), newer_than="$lt", keep=(LEARNER_GROUP,))

    async def moved(self, identity: Any, group: str | None) -> None:
        await self.rows.update_one({"_id": identity}, {"$set": {LEARNER_GROUP: group}})

    async def _write(self, row: Document, newer_than: str, keep: tuple[str, ...] = ()) -> None:
        """Bring the row to ``row`` unless it is at a newer version already: one conditional
        update when the row is there (the usual case), an insert when it is not."""
        identity = row["_id"]
        changes = {k: v for k, v in row.items() if k != "_id" and k not in keep}
        while True:
            done = await self.rows.update_one(
                {"_id": identity, "version": {newer_than: row["version"]}}, {"$set": changes}
            )
            if done.matched_count == 1:
                return
            try:
                await self.rows.insert_one(row)
                return
            except DuplicateKeyError:
                # There already: at this version or a newer one (done), or an older one a
                # concurrent write inserted meanwhile (the update above now matches it).
                found = await self.rows.find_one({"_id": identity}, {"version": 1})
                if found is not None and found["version"] >= row["version"]:
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
            # The same version too: a learner's move changes the group, not the version.
            await self._write(row_of(document), newer_than="$lte")
        return len(missing) + len(stale)
