"""The ILR service's HTTP API (/v1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from ilrflow.ilr.adapters.repository import IlrDocument
from ilrflow.ilr.service.use_cases import IlrService
from ilrflow.shared.auth import CurrentPrincipal, require_role
from ilrflow.shared.ilr import export_message
from ilrflow.shared.settings import get_settings

router = APIRouter(prefix="/v1", tags=["ilr"])


def get_service(request: Request) -> IlrService:
    service: IlrService = request.app.state.ilr_service
    return service


Service = Annotated[IlrService, Depends(get_service)]


class IlrView(BaseModel):
    learner_id: str
    version: int
    qa_verified: bool
    learner: dict[str, Any]


class IlrVersion(BaseModel):
    version: int
    actor: str
    at: str
    cause: str
    tracker_id: str | None
    outcome: str
    reason: str
    patch: list[dict[str, Any]]


def _view(document: IlrDocument) -> IlrView:
    return IlrView(
        learner_id=document.learner_id,
        version=document.version,
        qa_verified=document.qa_verified,
        learner=document.learner or {},
    )


@router.get(
    "/learners/{learner_id}/ilr", response_model=IlrView, summary="The learner's current ILR"
)
async def get_ilr(learner_id: str, principal: CurrentPrincipal, service: Service) -> IlrView:
    return _view(await service.get(principal, learner_id))


@router.get(
    "/learners/{learner_id}/ilr/history",
    response_model=list[IlrVersion],
    summary="Every version of the learner's ILR with actor, tracker, time and patch",
)
async def get_history(
    learner_id: str, principal: CurrentPrincipal, service: Service
) -> list[IlrVersion]:
    document = await service.get(principal, learner_id)
    return [IlrVersion.model_validate(entry) for entry in document.history]


@router.post(
    "/learners/{learner_id}/ilr/qa-verify",
    response_model=IlrView,
    summary="Mark the ILR QA-verified (ILR QA role); programme changes then need that role",
)
async def qa_verify(learner_id: str, principal: CurrentPrincipal, service: Service) -> IlrView:
    require_role(principal, "ilr_qa")
    return _view(await service.qa_verify(principal, learner_id))


@router.get(
    "/ilr/export.xml",
    summary="The tenant's ILR as an ESFA Message document for one collection year",
    responses={200: {"content": {"application/xml": {}}}},
)
async def export_xml(
    principal: CurrentPrincipal,
    service: Service,
    year: Annotated[str, Query(pattern=r"^(2425|2526)$", description="Collection year, e.g. 2526")],
) -> Response:
    require_role(principal, "admin", "ilr_qa", "operator")
    documents = await service.repository.list_for_tenant(principal.tenant)
    body = export_message(
        [d.learner for d in documents if d.learner],
        ukprn=get_settings().default_ukprn,
        year=year,
        prepared=datetime.now(UTC),
    )
    filename = f"ILR-{get_settings().default_ukprn}-{year}.xml"
    return Response(
        body,
        media_type="application/xml",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
