"""The learner service's HTTP API (/v1): parse, authorise, call one use case, map the result."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from ilrflow.contracts.events import LearnerSnapshot, StaffUpdated
from ilrflow.learner.domain.model import EnrolmentIn, LearnerIn, StaffIn
from ilrflow.learner.service.use_cases import LearnerService
from ilrflow.platform.auth import CurrentPrincipal, require_role

router = APIRouter(prefix="/v1", tags=["learners"])
# Who may read the staff directory: those who manage staff, and support, who answer "who did
# this" (the audit log names people by id). Tutors and learners have no need of it.
STAFF_DIRECTORY_READERS = ("admin", "operator", "support")


def get_service(request: Request) -> LearnerService:
    service: LearnerService = request.app.state.learner_service
    return service


Service = Annotated[LearnerService, Depends(get_service)]


@router.post(
    "/staff", status_code=201, response_model=StaffUpdated, summary="Register a staff member"
)
async def register_staff(
    body: StaffIn, principal: CurrentPrincipal, service: Service
) -> StaffUpdated:
    require_role(principal, "admin", "operator")
    return await service.register_staff(principal, body)


@router.get("/staff", response_model=list[StaffUpdated], summary="The tenant's staff directory")
async def staff_directory(principal: CurrentPrincipal, service: Service) -> list[StaffUpdated]:
    require_role(principal, *STAFF_DIRECTORY_READERS)
    return await service.staff_directory(principal)


@router.get("/staff/{staff_id}", response_model=StaffUpdated, summary="One staff member")
async def staff_member(
    staff_id: str, principal: CurrentPrincipal, service: Service
) -> StaffUpdated:
    require_role(principal, *STAFF_DIRECTORY_READERS)
    return await service.staff_member(principal, staff_id)


@router.post(
    "/learners", status_code=201, response_model=LearnerSnapshot, summary="Create a learner"
)
async def create_learner(
    body: LearnerIn, principal: CurrentPrincipal, service: Service
) -> LearnerSnapshot:
    require_role(principal, "admin", "tutor")
    return await service.create_learner(principal, body)


@router.get("/learners/{learner_id}", response_model=LearnerSnapshot, summary="Read a learner")
async def get_learner(
    learner_id: str, principal: CurrentPrincipal, service: Service
) -> LearnerSnapshot:
    return await service.get_learner(principal, learner_id)


@router.get("/learners", response_model=list[LearnerSnapshot], summary="List visible learners")
async def list_learners(
    principal: CurrentPrincipal,
    service: Service,
    group: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=100, description="Name, email, ULN or id")] = None,
) -> list[LearnerSnapshot]:
    return await service.list_learners(principal, group, q)


@router.post(
    "/learners/{learner_id}/enrolments",
    status_code=201,
    response_model=LearnerSnapshot,
    summary="Enrol a learner on an apprenticeship standard (creates the ILR programme aim)",
)
async def enrol(
    learner_id: str, body: EnrolmentIn, principal: CurrentPrincipal, service: Service
) -> LearnerSnapshot:
    require_role(principal, "admin", "tutor")
    return await service.enrol(principal, learner_id, body)


@router.get("/groups", response_model=list[str], summary="Groups of the caller's tenant")
async def groups(principal: CurrentPrincipal, service: Service) -> list[str]:
    require_role(principal, "admin", "tutor", "support", "operator", "ilr_qa")
    return await service.groups(principal)


@router.get("/me", summary="The caller: staff record or learner record")
async def me(principal: CurrentPrincipal, service: Service) -> dict[str, object]:
    if principal.is_staff:
        staff = await service.staff_record(principal)
        return {"kind": "staff", "principal": principal.model_dump(), "staff": staff}
    learner = await service.get_learner(principal, principal.sub)
    return {"kind": "learner", "principal": principal.model_dump(), "learner": learner}
