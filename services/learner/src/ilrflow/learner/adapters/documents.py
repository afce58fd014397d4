"""MongoDB persistence of each learner's training plan versions and their PDFs.

``learner_documents`` holds one document per learner (``_id`` = tenant:learner): the versions,
the latest ILR record seen, a revision checked on every save, and the outbox. The PDFs sit in
``document_files`` under ``tenant:learner:sha256``: written before the versions that name them,
never changed, so a write that loses its race leaves at most a file nobody names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ilrflow.contracts.events import Envelope
from ilrflow.learner.adapters.repository import doc_id
from ilrflow.learner.domain.documents import LearnerDocuments
from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.mongo import Document, plain
from ilrflow.platform.outbox import merge_updates, new_document_outbox, outbox_update


class DocumentRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.documents: AsyncCollection[Document] = serialised_writes(db["learner_documents"])
        self.files: AsyncCollection[Document] = db["document_files"]

    @property
    def outbox_collections(self) -> list[AsyncCollection[Document]]:
        return [self.documents]

    async def get_documents(
        self, tenant: str, learner_id: str
    ) -> tuple[LearnerDocuments, int] | None:
        found = await self.documents.find_one({"_id": doc_id(tenant, learner_id)})
        if found is None:
            return None
        # plain(): the ILR record's ULN comes back as a BSON Int64.
        return LearnerDocuments.model_validate(plain(found["state"])), int(found["revision"])

    async def save_documents(
        self,
        tenant: str,
        documents: LearnerDocuments,
        expected_revision: int,
        events: Sequence[Envelope[Any]],
    ) -> bool:
        state = documents.model_dump(mode="json")
        if expected_revision == 0:
            return await self._insert(tenant, state, documents.learner_id, events)
        result = await self.documents.update_one(
            {"_id": doc_id(tenant, documents.learner_id), "revision": expected_revision},
            merge_updates(
                {"$set": {"state": state}, "$inc": {"revision": 1}}, outbox_update(events)
            ),
        )
        return result.matched_count == 1

    async def _insert(
        self, tenant: str, state: Document, learner_id: str, events: Sequence[Envelope[Any]]
    ) -> bool:
        document = {
            "_id": doc_id(tenant, learner_id),
            "tenant": tenant,
            "learner_id": learner_id,
            "state": state,
            "revision": 1,
            **new_document_outbox(events),
        }
        try:
            await self.documents.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def put_pdf(self, tenant: str, learner_id: str, sha256: str, pdf: bytes) -> None:
        file_id = f"{doc_id(tenant, learner_id)}:{sha256}"
        await self.files.replace_one(
            {"_id": file_id},
            {"_id": file_id, "tenant": tenant, "learner_id": learner_id, "pdf": pdf},
            upsert=True,
        )

    async def get_pdf(self, tenant: str, learner_id: str, sha256: str) -> bytes | None:
        found = await self.files.find_one({"_id": f"{doc_id(tenant, learner_id)}:{sha256}"})
        return None if found is None else bytes(found["pdf"])
