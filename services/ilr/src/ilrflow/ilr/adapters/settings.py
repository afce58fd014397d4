"""MongoDB persistence of each tenant's ILR settings (one document per tenant), with the outbox
of their changes (``ilrflow.ilr.settings_changed.v1`` on ``tenant-settings``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from ilrflow.contracts.events import Envelope
from ilrflow.ilr.domain.settings import IlrSettings
from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.mongo import Document
from ilrflow.platform.outbox import merge_updates, outbox_update


class IlrSettingsRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.settings: AsyncCollection[Document] = serialised_writes(db["ilr_settings"])

    async def get(self, tenant: str) -> IlrSettings:
        fields = dict.fromkeys(IlrSettings.model_fields, 1)
        document = await self.settings.find_one({"_id": tenant}, {"_id": 0, **fields})
        return IlrSettings() if document is None else IlrSettings.model_validate(document)

    async def save(
        self, tenant: str, settings: IlrSettings, events: Sequence[Envelope[Any]]
    ) -> None:
        """The settings and the events telling of the change, in one write."""
        body = settings.model_dump(mode="json")
        await self.settings.update_one(
            {"_id": tenant}, merge_updates({"$set": body}, outbox_update(events)), upsert=True
        )
