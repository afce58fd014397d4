"""MongoDB persistence of the platform-wide reference data the ILR service owns: the 2025/26
minimum OTJ table, one document holding the table and its outbox, so a new table and the event
announcing it are one write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from ilrflow.contracts.events import OTJ_MINIMUMS_SUBJECT, Envelope, OtjMinimumsLoaded
from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.mongo import Document, plain
from ilrflow.platform.outbox import merge_updates, outbox_update

OTJ_MINIMUMS = OTJ_MINIMUMS_SUBJECT  # the document's _id


class ReferenceRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.reference: AsyncCollection[Document] = serialised_writes(db["reference_data"])

    async def otj_minimums(self) -> OtjMinimumsLoaded | None:
        document = await self.reference.find_one({"_id": OTJ_MINIMUMS}, {"table": 1})
        if document is None or "table" not in document:
            return None
        return OtjMinimumsLoaded.model_validate(plain(document["table"]))

    async def save_otj_minimums(
        self, table: OtjMinimumsLoaded, events: Sequence[Envelope[Any]]
    ) -> None:
        """Replace the table and queue ``events`` in the same write."""
        update = merge_updates(
            {"$set": {"table": table.model_dump(mode="json")}}, outbox_update(events)
        )
        await self.reference.update_one({"_id": OTJ_MINIMUMS}, update, upsert=True)
