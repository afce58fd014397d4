"""The tracker service's read-only copies: learners and staff (``learner-updated``), each
learner's ILR (``ilr-state``) and the platform's minimum OTJ table (``reference-data``).

The tracker service never asks another service; what it needs to validate, scope and allocate
trackers and to preview their ILR effect it keeps here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ilrflow.contracts.events import (
    OTJ_MINIMUMS_SUBJECT,
    Envelope,
    IlrState,
    LearnerUpdated,
    OtjMinimumsLoaded,
    StaffUpdated,
)
from ilrflow.platform.mongo import Document, plain


@dataclass(frozen=True)
class ProgrammeView:
    enrolment_id: str
    standard_code: int
    start_date: date
    employer_name: str
    weekly_hours: float | None = None


@dataclass(frozen=True)
class LearnerView:
    id: str
    name: str
    group: str | None
    primary_tutor_id: str | None
    programmes: list[ProgrammeView] = field(default_factory=list)

    @property
    def current_programme(self) -> ProgrammeView | None:
        return self.programmes[-1] if self.programmes else None


@dataclass(frozen=True)
class StaffView:
    id: str
    name: str
    email: str
    roles: list[str]
    groups: list[str]


@dataclass(frozen=True)
class IlrView:
    version: int
    qa_verified: bool
    learner: dict[str, Any]


LEARNERS = "learner_projection"
STAFF = "staff_projection"
ILR = "ilr_projection"
OTJ_MINIMUMS = "otj_minimums_projection"


class ProjectionRepository:
    """Reads and writes the four projections; a rebuild names the collection it fills."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        *,
        learners: str = LEARNERS,
        staff: str = STAFF,
        ilr: str = ILR,
        otj_minimums: str = OTJ_MINIMUMS,
    ) -> None:
        self.learners: AsyncCollection[Document] = db[learners]
        self.staff: AsyncCollection[Document] = db[staff]
        self.ilr: AsyncCollection[Document] = db[ilr]
        self.otj_minimums_table: AsyncCollection[Document] = db[otj_minimums]

    async def on_ilr_state(self, event: Envelope[IlrState]) -> None:
        """Keep the newest ILR per learner (for previews and the QA lock); an older version
        arriving late never overwrites a newer one."""
        state = event.data
        await _newest_wins(
            self.ilr,
            f"{event.tenant}:{state.learner_id}",
            "version",
            state.version,
            state.model_dump(mode="json"),
        )

    async def ilr_of(self, tenant: str, learner_id: str) -> IlrView | None:
        document = await self.ilr.find_one({"_id": f"{tenant}:{learner_id}"})
        if document is None:
            return None
        return IlrView(
            version=int(document["version"]),
            qa_verified=bool(document.get("qa_verified")),
            learner=plain(document.get("learner") or {}),  # the ULN comes back as an Int64
        )

    async def on_otj_minimums_loaded(self, event: Envelope[OtjMinimumsLoaded]) -> None:
        """Keep the latest table loaded; an older one arriving late never replaces it."""
        table = event.data
        stored = {"loaded_at": table.loaded_at, "table": table.model_dump(mode="json")}
        await _newest_wins(
            self.otj_minimums_table, OTJ_MINIMUMS_SUBJECT, "loaded_at", table.loaded_at, stored
        )

    async def otj_minimums(self) -> Mapping[int, int] | None:
        document = await self.otj_minimums_table.find_one({"_id": OTJ_MINIMUMS_SUBJECT})
        if document is None:
            return None
        return OtjMinimumsLoaded.model_validate(plain(document["table"])).by_standard()

    async def ensure_indexes(self) -> None:
        await self.staff.create_index([("tenant", 1)])

    async def on_learner_updated(self, event: Envelope[LearnerUpdated]) -> None:
        learner = event.data.learner
        programmes = [
            {
                "enrolment_id": e.id,
                "standard_code": e.standard_code,
                "start_date": e.start_date.isoformat(),
                "employer_name": e.employer.name,
                "weekly_hours": e.weekly_hours,
            }
            for e in learner.enrolments
        ]
        await self.learners.update_one(
            {"_id": f"{event.tenant}:{learner.id}"},
            {
                "$set": {
                    "tenant": event.tenant,
                    "id": learner.id,
                    "name": f"{learner.given_names} {learner.family_name}",
                    "group": learner.group,
                    "primary_tutor_id": learner.primary_tutor_id,
                    "programmes": programmes,
                }
            },
            upsert=True,
        )

    async def on_staff_updated(self, event: Envelope[StaffUpdated]) -> None:
        staff = event.data
        await self.staff.update_one(
            {"_id": f"{event.tenant}:{staff.id}"},
            {"$set": {"tenant": event.tenant, **staff.model_dump(mode="json")}},
            upsert=True,
        )

    async def learner(self, tenant: str, learner_id: str) -> LearnerView | None:
        document = await self.learners.find_one({"_id": f"{tenant}:{learner_id}"})
        if document is None:
            return None
        return LearnerView(
            id=document["id"],
            name=document["name"],
            group=document.get("group"),
            primary_tutor_id=document.get("primary_tutor_id"),
            programmes=[
                ProgrammeView(
                    enrolment_id=p["enrolment_id"],
                    standard_code=int(p["standard_code"]),
                    start_date=date.fromisoformat(p["start_date"]),
                    employer_name=p["employer_name"],
                    weekly_hours=p.get("weekly_hours"),
                )
                for p in document.get("programmes", [])
            ],
        )

    async def staff_member(self, tenant: str, staff_id: str) -> StaffView | None:
        document = await self.staff.find_one({"_id": f"{tenant}:{staff_id}"})
        return None if document is None else _staff(document)

    async def staff_of_tenant(self, tenant: str) -> list[StaffView]:
        return [_staff(d) async for d in self.staff.find({"tenant": tenant})]


async def _newest_wins(
    collection: AsyncCollection[Document], key: str, order: str, value: Any, stored: Document
) -> None:
    """Store ``stored`` under ``key`` unless the stored one is newer (its ``order`` field
    greater than ``value``), in one command: an upsert conditional on the order; where a newer
    one is stored the upsert's insert meets its ``_id`` and there is nothing to do."""
    with contextlib.suppress(DuplicateKeyError):
        await collection.update_one(
            {"_id": key, order: {"$lte": value}}, {"$set": stored}, upsert=True
        )


def _staff(document: Document) -> StaffView:
    return StaffView(
        id=document["id"],
        name=document["name"],
        email=document["email"],
        roles=list(document.get("roles", [])),
        groups=list(document.get("groups", [])),
    )
