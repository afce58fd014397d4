"""MongoDB persistence of each tenant's ILR settings (one document per tenant)."""

from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from ilrflow.ilr.domain.settings import IlrSettings
from ilrflow.platform.mongo import Document


class IlrSettingsRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.settings: AsyncCollection[Document] = db["ilr_settings"]

    async def get(self, tenant: str) -> IlrSettings:
        document = await self.settings.find_one({"_id": tenant}, {"_id": 0})
        return IlrSettings() if document is None else IlrSettings.model_validate(document)

    async def save(self, tenant: str, settings: IlrSettings) -> None:
        await self.settings.replace_one(
            {"_id": tenant}, settings.model_dump(mode="json"), upsert=True
        )
