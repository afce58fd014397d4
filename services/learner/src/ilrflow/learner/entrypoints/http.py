"""The learner service's HTTP API (/v1): parse, authorise, call one use case, map the result."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from ilrflow.contracts.errors import FieldProblem, InvalidInput
from ilrflow.contracts.events import LearnerSnapshot, StaffUpdated
from ilrflow.ilr_engine.status import Status, WithdrawalKind
from ilrflow.learner.domain.listing import LearnerFilter, LearnerView
from ilrflow.learner.domain.model import EnrolmentIn, LearnerIn, StaffIn
from ilrflow.learner.service.use_cases import LearnerService
from ilrflow.platform.auth import CurrentPrincipal, Principal, roles_allowed
from ilrflow.platform.openapi import problem_responses
from ilrflow.platform.paging import (
    DEFAULT_PAGE_SIZE,
    Cursor,
    Limit,
    Page,
    decode_cursor,
    page_in_memory,
    page_of,
)

router = APIRouter(prefix="/v1", tags=["learners"])
# Who may read the staff directory: those who manage staff, and support, who answer "who did
# this" (the audit log names people by id). Tutors and learners have no need of it.
STAFF_DIRECTORY_READERS = ("admin", "operator", "support")


def get_service(request: Request) -> LearnerService:
    service: LearnerService = request.app.state.learner_service
    return service


Service = Annotated[LearnerService, Depends(get_service)]


class LearnerPage(Page[LearnerView]):
    """Learners by id."""


class StaffPage(Page[StaffUpdated]):
    """Staff members by id."""


class GroupPage(Page[str]):
    """Group names, in order."""


@router.post(
    "/staff",
    status_code=201,
    response_model=StaffUpdated,
    responses=problem_responses(403, 409),
    summary="Register a staff member",
)
async def register_staff(
    body: StaffIn,
    principal: Annotated[Principal, roles_allowed("admin", "operator")],
    service: Service,
) -> StaffUpdated:
    return await service.register_staff(principal, body)


@router.get(
    "/staff",
    response_model=StaffPage,
    responses=problem_responses(403),
    summary="The tenant's staff directory, by id",
)
async def staff_directory(
    principal: Annotated[Principal, roles_allowed(*STAFF_DIRECTORY_READERS)],
    service: Service,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> StaffPage:
    # A tenant has tens of staff, not thousands: the page is cut from the whole directory.
    staff = await service.staff_directory(principal)
    return page_in_memory(StaffPage, staff, lambda s: (s.id,), (str,), cursor, limit)


@router.get(
    "/staff/{staff_id}",
    response_model=StaffUpdated,
    responses=problem_responses(403),
    summary="One staff member",
)
async def staff_member(
    staff_id: str,
    principal: Annotated[Principal, roles_allowed(*STAFF_DIRECTORY_READERS)],
    service: Service,
) -> StaffUpdated:
    return await service.staff_member(principal, staff_id)


@router.post(
    "/learners",
    status_code=201,
    response_model=LearnerSnapshot,
    responses=problem_responses(403),
    summary="Create a learner",
)
async def create_learner(
    body: LearnerIn,
    principal: Annotated[Principal, roles_allowed("admin", "tutor")],
    service: Service,
) -> LearnerSnapshot:
    return await service.create_learner(principal, body)


@router.get("/learners/{learner_id}", response_model=LearnerView, summary="Read a learner")
async def get_learner(
    learner_id: str, principal: CurrentPrincipal, service: Service
) -> LearnerView:
    return await service.get_learner(principal, learner_id)


def learner_filter(
    group: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=100, description="Name, email, ULN or id")] = None,
    programme_status: Annotated[
        list[str] | None,
        Query(
            description="Any of these statuses: the parameter repeated, or a comma list "
            f"({', '.join(Status)})"
        ),
    ] = None,
    withdrawal_kind: WithdrawalKind | None = None,
) -> LearnerFilter:
    return LearnerFilter(
        groups=None if group is None else [group],
        text=q,
        statuses=_statuses(programme_status or []),
        withdrawal_kind=withdrawal_kind,
    )


Filter = Annotated[LearnerFilter, Depends(learner_filter)]


@router.get("/learners", response_model=LearnerPage, summary="Visible learners, by id")
async def list_learners(
    principal: CurrentPrincipal,
    service: Service,
    where: Filter,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> LearnerPage:
    after = decode_cursor(cursor, (str,))
    found = await service.list_learners(
        principal, where, None if after is None else str(after[0]), limit + 1
    )
    return page_of(LearnerPage, found, limit, lambda learner: (learner.id,))


@router.post(
    "/learners/{learner_id}/enrolments",
    status_code=201,
    response_model=LearnerSnapshot,
    responses=problem_responses(403, 409),
    summary="Enrol a learner on an apprenticeship standard (creates the ILR programme aim)",
)
async def enrol(
    learner_id: str,
    body: EnrolmentIn,
    principal: Annotated[Principal, roles_allowed("admin", "tutor")],
    service: Service,
) -> LearnerSnapshot:
    return await service.enrol(principal, learner_id, body)


@router.get(
    "/groups",
    response_model=GroupPage,
    responses=problem_responses(403),
    summary="Groups of the caller's tenant, by name",
)
async def groups(
    principal: Annotated[
        Principal, roles_allowed("admin", "tutor", "support", "operator", "ilr_qa")
    ],
    service: Service,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> GroupPage:
    names = await service.groups(principal)
    return page_in_memory(GroupPage, names, lambda name: (name,), (str,), cursor, limit)


@router.get(
    "/me",
    responses=problem_responses(404),
    summary="The caller: staff record or learner record (404: a learner not on record)",
)
async def me(principal: CurrentPrincipal, service: Service) -> dict[str, object]:
    if principal.is_staff:
        staff = await service.staff_record(principal)
        return {"kind": "staff", "principal": principal.model_dump(), "staff": staff}
    learner = await service.get_learner(principal, principal.sub)
    return {"kind": "learner", "principal": principal.model_dump(), "learner": learner}


def _statuses(values: list[str]) -> frozenset[Status]:
    named = [name.strip() for value in values for name in value.split(",") if name.strip()]
    unknown = sorted(set(named) - {status.value for status in Status})
    if unknown:
        reason = f"unknown status {', '.join(unknown)}; one of {', '.join(Status)}"
        raise InvalidInput(
            f"programme_status: {reason}", [FieldProblem(field="programme_status", reason=reason)]
        )
    return frozenset(Status(name) for name in named)
