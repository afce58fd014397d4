"""The ILR service's HTTP API (/v1): parse, authorise, call one use case, map the result."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ilrflow.contracts.events import IlrValidation, OtjMinimumsLoaded
from ilrflow.ilr.adapters.repository import IlrDocument
from ilrflow.ilr.domain.settings import IlrSettings
from ilrflow.ilr.service.use_cases import IlrService
from ilrflow.ilr_engine import published
from ilrflow.ilr_engine.policy import RestartPlannedHours
from ilrflow.platform.auth import Principal, roles_allowed, scope_allowed
from ilrflow.platform.openapi import problem_responses
from ilrflow.platform.paging import DEFAULT_PAGE_SIZE, Cursor, Limit, Page, page_in_memory

router = APIRouter(prefix="/v1", tags=["ilr"])

SETTINGS_READERS = ("admin", "ilr_qa", "operator")
EXPORTERS = ("admin", "ilr_qa", "operator")
REFERENCE_READERS = ("admin", "ilr_qa", "operator")
REFERENCE_LOADERS = ("operator",)


def get_service(request: Request) -> IlrService:
    service: IlrService = request.app.state.ilr_service
    return service


Service = Annotated[IlrService, Depends(get_service)]
ILR_READ = "ilr:read"
# Whoever may read the learner (the use case decides), and API clients granted ilr:read.
IlrReader = Annotated[Principal, scope_allowed(ILR_READ)]


class IlrView(BaseModel):
    learner_id: str
    version: int
    qa_verified: bool
    qa_verified_by: str | None = None
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


class IlrVersionPage(Page[IlrVersion]):
    """The ILR's versions, oldest first."""


class IlrSettingsIn(BaseModel):
    """Fields to change; those left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    ukprn: int | None = None
    restart_planned_hours: RestartPlannedHours | None = None


class OtjMinimumsIn(BaseModel):
    """The whole table; it replaces the loaded one (``ilrflow reference load-otj-minimums``)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="What the table was loaded from, e.g. the DfE file's name.")
    minimums: list[dict[str, Any]] = Field(
        description="Rows of {std_code, minimum_otj_hours}: whole numbers, one row per standard."
    )


def _view(document: IlrDocument) -> IlrView:
    return IlrView(
        learner_id=document.learner_id,
        version=document.version,
        qa_verified=document.qa_verified,
        qa_verified_by=document.qa_verified_by,
        learner=published(document.learner or {}),
    )


@router.get(
    "/learners/{learner_id}/ilr", response_model=IlrView, summary="The learner's current ILR"
)
async def get_ilr(learner_id: str, principal: IlrReader, service: Service) -> IlrView:
    return _view(await service.get(principal, learner_id))


@router.get(
    "/learners/{learner_id}/ilr/history",
    response_model=IlrVersionPage,
    summary="Every version of the learner's ILR with actor, tracker, time and patch, oldest first",
)
async def get_history(
    learner_id: str,
    principal: IlrReader,
    service: Service,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> IlrVersionPage:
    entries = [IlrVersion.model_validate(e) for e in await service.history(principal, learner_id)]
    return page_in_memory(IlrVersionPage, entries, lambda v: (v.version,), (int,), cursor, limit)


@router.post(
    "/learners/{learner_id}/ilr/qa-verify",
    response_model=IlrView,
    responses=problem_responses(403, 409),
    summary="Mark the ILR QA-verified (ILR QA role); programme changes then need that role",
)
async def qa_verify(
    learner_id: str, principal: Annotated[Principal, roles_allowed("ilr_qa")], service: Service
) -> IlrView:
    return _view(await service.qa_verify(principal, learner_id))


@router.get(
    "/ilr/export.xml",
    summary="The tenant's ILR as an ESFA Message document for one collection year",
    responses=problem_responses(403) | {200: {"content": {"application/xml": {}}}},
)
async def export_xml(
    principal: Annotated[Principal, roles_allowed(*EXPORTERS, scope=ILR_READ)],
    service: Service,
    year: Annotated[str, Query(pattern=r"^(2425|2526)$", description="Collection year, e.g. 2526")],
) -> Response:
    export = await service.export(principal, year)
    return Response(
        export.body,
        media_type="application/xml",
        headers={"content-disposition": f'attachment; filename="{export.filename}"'},
    )


@router.get(
    "/learners/{learner_id}/ilr/validation",
    response_model=IlrValidation,
    summary="The ESFA validation rules the learner's current ILR breaks (errors and warnings)",
)
async def get_validation(learner_id: str, principal: IlrReader, service: Service) -> IlrValidation:
    found = await service.validation(principal, learner_id)
    return IlrValidation.model_validate(found.as_json())


class ExportTotals(BaseModel):
    learners: int
    valid: int
    invalid: int
    errors: int
    warnings: int


class LearnerCheck(IlrValidation):
    learner_id: str


class ExportValidationView(BaseModel):
    year: str
    valid: bool
    totals: ExportTotals
    learners: list[LearnerCheck]


@router.get(
    "/ilr/export/validation",
    response_model=ExportValidationView,
    responses=problem_responses(403),
    summary="The ESFA validation rules each learner in a year's ILR file breaks, with totals",
)
async def export_validation(
    principal: Annotated[Principal, roles_allowed(*EXPORTERS, scope=ILR_READ)],
    service: Service,
    year: Annotated[str, Query(pattern=r"^(2425|2526)$", description="Collection year, e.g. 2526")],
) -> ExportValidationView:
    checked = await service.export_validation(principal, year)
    return ExportValidationView.model_validate(checked.as_json())


@router.get(
    "/ilr/settings",
    response_model=IlrSettings,
    responses=problem_responses(403),
    summary="The tenant's ILR settings",
)
async def get_settings(
    principal: Annotated[Principal, roles_allowed(*SETTINGS_READERS)], service: Service
) -> IlrSettings:
    return await service.tenant_settings(principal)


@router.put(
    "/ilr/settings",
    response_model=IlrSettings,
    responses=problem_responses(403),
    summary="Set the tenant's UKPRN and how restarts are recorded (admin)",
)
async def put_settings(
    body: IlrSettingsIn, principal: Annotated[Principal, roles_allowed("admin")], service: Service
) -> IlrSettings:
    return await service.update_tenant_settings(principal, body.model_dump(exclude_none=True))


@router.get(
    "/ilr/reference/otj-minimums",
    response_model=OtjMinimumsLoaded,
    responses=problem_responses(403, 404),
    summary="The loaded 2025/26 minimum OTJ hours per standard (platform-wide), with its source",
)
async def get_otj_minimums(
    principal: Annotated[Principal, roles_allowed(*REFERENCE_READERS)], service: Service
) -> OtjMinimumsLoaded:
    return await service.otj_minimums()


@router.put(
    "/ilr/reference/otj-minimums",
    response_model=OtjMinimumsLoaded,
    responses=problem_responses(403),
    summary="Replace the platform-wide 2025/26 minimum OTJ table (operator)",
)
async def put_otj_minimums(
    body: OtjMinimumsIn,
    principal: Annotated[Principal, roles_allowed(*REFERENCE_LOADERS)],
    service: Service,
) -> OtjMinimumsLoaded:
    return await service.load_otj_minimums(principal, body.source, body.minimums)
