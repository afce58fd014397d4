"""The tracker service's HTTP API (/v1): parse, authorise, call one use case, map the result."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ilrflow.contracts.errors import FieldProblem, InvalidInput
from ilrflow.contracts.trackers import (
    CUSTOM_PREFIX,
    TRACKER_TYPES,
    CustomFieldDefinition,
    CustomTypeDefinition,
    changes_schema,
)
from ilrflow.platform.auth import CurrentPrincipal, Principal, roles_allowed
from ilrflow.platform.http_errors import ApiError
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
from ilrflow.tracker.adapters.repository import TrackerFilter
from ilrflow.tracker.domain.bulk import BULK_LIMIT, BulkItem, BulkJob, BulkKind, JobStatus
from ilrflow.tracker.domain.policy import AllocationRule, TenantTrackerSettings, TypeSettings
from ilrflow.tracker.domain.tracker import Tracker
from ilrflow.tracker.entrypoints.export import trackers_workbook
from ilrflow.tracker.service.bulk import BulkRequested, BulkService
from ilrflow.tracker.service.use_cases import TrackerService

router = APIRouter(prefix="/v1", tags=["trackers"])
ADMIN_ROLES = ("admin",)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def get_service(request: Request) -> TrackerService:
    service: TrackerService = request.app.state.tracker_service
    return service


Service = Annotated[TrackerService, Depends(get_service)]


def get_bulk_service(request: Request) -> BulkService:
    service: BulkService = request.app.state.bulk_service
    return service


Bulk = Annotated[BulkService, Depends(get_bulk_service)]


# --- request and response bodies -------------------------------------------------------------


class RaiseTrackerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=80, description="A catalogue type or custom:<name>.")
    learner_id: str = Field(min_length=1, max_length=64)
    changes: dict[str, Any]
    note: str | None = Field(default=None, max_length=2000)


class EditTrackerIn(BaseModel):
    """Either new ``changes`` (and/or ``note``), or, for a return to learning, an override of
    the recalculated ``planned_end_date`` with its mandatory ``override_reason``."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, description="Or send If-Match.")
    changes: dict[str, Any] | None = None
    note: str | None = Field(default=None, max_length=2000)
    planned_end_date: date | None = None
    override_reason: str | None = Field(default=None, max_length=2000)


class AllocateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allocated_to: str = Field(min_length=1, max_length=64)
    version: int | None = Field(default=None, ge=1)
    reason: str | None = Field(
        default=None, max_length=2000, description="Why, kept in the tracker's history."
    )


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1)


class ReasonIn(DecisionIn):
    reason: str = Field(min_length=1, max_length=2000)


class CancelIn(DecisionIn):
    reason: str | None = Field(default=None, max_length=2000)


class ActionView(BaseModel):
    allowed: bool
    reason: str = Field(default="", description="Why not, in words a person can read.")
    code: str | None = Field(
        default=None,
        description="Which rule said no: forbidden, not_visible, two_person_control, qa_locked, "
        "closed (the tracker is already processed, rejected or cancelled).",
    )


class TrackerActions(BaseModel):
    """What the caller may do to a tracker now, as the commands would decide."""

    allocate: ActionView
    edit: ActionView
    process: ActionView
    reject: ActionView


class BulkRaiseItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    learner_id: str = Field(min_length=1, max_length=64)
    changes: dict[str, Any]
    note: str | None = Field(default=None, max_length=2000)


class BulkRaiseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=80, description="A catalogue type or custom:<name>.")
    items: list[BulkRaiseItemIn] = Field(max_length=BULK_LIMIT)


class BulkProcessIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        max_length=BULK_LIMIT, description="The trackers to process, each once."
    )


class BulkJobSummary(BaseModel):
    id: str
    kind: BulkKind
    tracker_type: str | None
    requested_by: str
    status: JobStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    total: int
    counts: dict[str, int] = Field(description="Items pending, raised, processed, refused.")


class BulkJobPage(Page[BulkItem], BulkJobSummary):
    """The job, with a page of its items in request order."""


class TrackerPage(Page[Tracker]):
    """Trackers, newest first."""


class TrackerTypeView(BaseModel):
    type: str
    title: str
    description: str
    learner_led: bool
    programme_changing: bool
    custom: bool
    enabled: bool
    raise_roles: list[str]
    edit_roles: list[str]
    process_roles: list[str]
    fields: list[CustomFieldDefinition] | None = Field(
        default=None, description="The form of a custom type; null for a built-in type."
    )
    changes_schema: dict[str, Any] = Field(
        description="JSON Schema of this type's `changes` in POST /v1/trackers, generated from "
        "the model that validates them (a custom type's: an object, checked against `fields`)."
    )


class TrackerTypePage(Page[TrackerTypeView]):
    """The built-in types in catalogue order, then the tenant's custom types by name."""


class CustomTypeIn(TypeSettings):
    """A tenant's own tracker type: its form, and (like any type) its switch and roles."""

    title: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    fields: list[CustomFieldDefinition] = Field(min_length=1, max_length=50)


class TrackerSettingsIn(BaseModel):
    """Tenant-wide settings; fields left out keep their current value."""

    model_config = ConfigDict(extra="forbid")

    allocation_rules: list[AllocationRule] | None = None
    material_impact_threshold: int | None = None
    withdrawal_reason_map: dict[str, int] | None = None
    two_person_control: bool | None = None
    admins_see_all_groups: bool | None = None


# --- tracker types and settings ----------------------------------------------------------------


def _type_view(settings: TenantTrackerSettings, name: str) -> TrackerTypeView:
    info = settings.type_info(name)
    assert info is not None
    return TrackerTypeView(
        type=name,
        title=info.title,
        description=info.description,
        learner_led=info.learner_led,
        programme_changing=info.programme_changing,
        custom=info.custom,
        enabled=settings.is_enabled(name),
        raise_roles=sorted(settings.roles_for(name, "raise")),
        edit_roles=sorted(settings.roles_for(name, "edit")),
        process_roles=sorted(settings.roles_for(name, "process")),
        fields=_custom_fields(settings, name),
        changes_schema=changes_schema(info),
    )


def _custom_fields(
    settings: TenantTrackerSettings, name: str
) -> list[CustomFieldDefinition] | None:
    definition = settings.custom_types.get(name.removeprefix(CUSTOM_PREFIX))
    if not name.startswith(CUSTOM_PREFIX) or definition is None:
        return None
    return list(definition.fields)


# What the tenant's permission policy refuses (403) and a stale version or state (409).
_DECIDED = problem_responses(403, 409)


@router.get(
    "/tracker-types",
    response_model=TrackerTypePage,
    summary="Types and their settings: built-in types in catalogue order, then custom by name",
)
async def list_types(
    principal: CurrentPrincipal,
    service: Service,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> TrackerTypePage:
    settings = await service.settings(principal)
    views = sorted((_type_view(settings, name) for name in settings.type_names()), key=_type_key)
    return page_in_memory(TrackerTypePage, views, _type_key, (int, str), cursor, limit)


def _type_key(view: TrackerTypeView) -> tuple[int, str]:
    return _CATALOGUE_ORDER.get(view.type, len(_CATALOGUE_ORDER)), view.type


_CATALOGUE_ORDER = {name: position for position, name in enumerate(TRACKER_TYPES)}


@router.put(
    "/tracker-types/custom:{name}",
    response_model=TrackerTypeView,
    responses=problem_responses(403, 409),
    summary="Define (or redefine) a custom type's form, switch and roles (admin)",
)
async def put_custom_type(
    name: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$")],
    body: CustomTypeIn,
    principal: Annotated[Principal, roles_allowed(*ADMIN_ROLES)],
    service: Service,
) -> TrackerTypeView:
    definition = CustomTypeDefinition(
        name=name, title=body.title, description=body.description, fields=tuple(body.fields)
    )
    type_settings = TypeSettings.model_validate(
        body.model_dump(include=set(TypeSettings.model_fields))
    )
    settings = await service.define_custom_type(principal, definition, type_settings)
    return _type_view(settings, CUSTOM_PREFIX + name)


@router.put(
    "/tracker-types/{tracker_type}",
    response_model=TrackerTypeView,
    responses=problem_responses(403, 409),
    summary="Enable or disable a type and set who may raise, edit and process it (admin)",
)
async def put_type(
    tracker_type: str,
    body: TypeSettings,
    principal: Annotated[Principal, roles_allowed(*ADMIN_ROLES)],
    service: Service,
) -> TrackerTypeView:
    settings = await service.set_type_settings(principal, tracker_type, body)
    return _type_view(settings, tracker_type)


@router.get(
    "/tracker-settings",
    response_model=TenantTrackerSettings,
    responses=problem_responses(403),
    summary="Tenant settings",
)
async def get_settings(
    principal: Annotated[Principal, roles_allowed(*ADMIN_ROLES)], service: Service
) -> TenantTrackerSettings:
    return await service.settings(principal)


@router.put(
    "/tracker-settings",
    response_model=TenantTrackerSettings,
    responses=problem_responses(403, 409),
    summary="Allocation rules, two-person control, thresholds, withdrawal reasons (admin)",
)
async def put_settings(
    body: TrackerSettingsIn,
    principal: Annotated[Principal, roles_allowed(*ADMIN_ROLES)],
    service: Service,
) -> TenantTrackerSettings:
    fields = body.model_dump(exclude_none=True)
    return await service.update_settings(
        principal,
        lambda current: TenantTrackerSettings.model_validate({**current.model_dump(), **fields}),
    )


# --- trackers ---------------------------------------------------------------------------------


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Makes a retried raise safe: a repeat with the same key and body returns the "
        "tracker the first one raised (header Idempotent-Replayed: true) and raises nothing "
        "new; the same key with another body is a 409.",
    ),
]


@router.post(
    "/trackers",
    status_code=201,
    response_model=Tracker,
    # 404: the learner is not one the caller sees; 409: an Idempotency-Key reused with another body
    responses=problem_responses(403, 404, 409),
    summary="Raise a tracker",
)
async def raise_tracker(
    body: RaiseTrackerIn,
    principal: CurrentPrincipal,
    service: Service,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Tracker:
    raised = await service.raise_tracker(
        principal, body.type, body.learner_id, body.changes, body.note, idempotency_key
    )
    if raised.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return raised.tracker


def tracker_filter(
    principal: CurrentPrincipal,
    status: Literal["raised", "allocated", "processed", "rejected", "cancelled"] | None = None,
    type: str | None = None,
    allocated_to: Annotated[str | None, Query(description="`me` or a staff id")] = None,
    learner_id: str | None = None,
    group: str | None = None,
    from_: Annotated[date | None, Query(alias="from", description="Raised on or after")] = None,
    to: Annotated[date | None, Query(description="Raised before the end of this day")] = None,
) -> TrackerFilter:
    return TrackerFilter(
        status=status,
        tracker_type=type,
        allocated_to=principal.sub if allocated_to == "me" else allocated_to,
        learner_id=learner_id,
        group=group,
        raised_from=datetime.combine(from_, time.min, tzinfo=UTC) if from_ else None,
        raised_to=datetime.combine(to + timedelta(days=1), time.min, tzinfo=UTC) if to else None,
    )


Filter = Annotated[TrackerFilter, Depends(tracker_filter)]


@router.get("/trackers", response_model=TrackerPage, summary="Trackers, newest first")
async def list_trackers(
    principal: CurrentPrincipal,
    service: Service,
    where: Filter,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> TrackerPage:
    after = decode_cursor(cursor, (datetime, str))
    key = None if after is None else (cast(datetime, after[0]), str(after[1]))
    found = await service.list_trackers(principal, where, key, limit + 1)
    return page_of(TrackerPage, found, limit, lambda tracker: (tracker.raised_at, tracker.id))


@router.get(
    "/trackers/export.xlsx",
    summary="The same selection as a spreadsheet",
    response_class=Response,
    responses=problem_responses(403)
    | {
        200: {
            "description": "One row per tracker: the Trackers screen's columns",
            "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def export_trackers(
    principal: Annotated[
        Principal, roles_allowed("admin", "tutor", "support", "operator", "ilr_qa")
    ],
    service: Service,
    where: Filter,
) -> Response:
    found = await service.export(principal, where)
    return Response(
        trackers_workbook(found.trackers, found.learners, found.staff),
        media_type=XLSX,
        headers={"content-disposition": 'attachment; filename="trackers.xlsx"'},
    )


@router.get(
    "/trackers/{tracker_id}",
    response_model=Tracker,
    summary="A tracker with history and ILR outcome",
)
async def get_tracker(
    tracker_id: str, principal: CurrentPrincipal, service: Service, response: Response
) -> Tracker:
    tracker = await service.get(principal, tracker_id)
    response.headers["etag"] = f'"{tracker.version}"'
    return tracker


@router.get(
    "/trackers/{tracker_id}/actions",
    response_model=TrackerActions,
    summary="Whether the caller may allocate, edit, process, reject it now, and why not",
)
async def tracker_actions(
    tracker_id: str, principal: CurrentPrincipal, service: Service
) -> TrackerActions:
    """The permission, scope, two-person and QA-lock checks of each command, and the tracker's
    state, asked without acting: a screen shows the reason instead of the button. A stale
    version, or a process date not reached yet, is still found only by trying."""
    decisions = await service.actions(principal, tracker_id)
    return TrackerActions.model_validate(
        {
            action: ActionView(allowed=d.allowed, reason=d.reason, code=d.code)
            for action, d in decisions.items()
        }
    )


@router.patch(
    "/trackers/{tracker_id}",
    response_model=Tracker,
    responses=_DECIDED | problem_responses(428),
    summary="Edit proposed values (versioned)",
)
async def edit_tracker(
    tracker_id: str,
    body: EditTrackerIn,
    principal: CurrentPrincipal,
    service: Service,
    if_match: Annotated[str | None, Header()] = None,
) -> Tracker:
    version = _expected_version(body.version, if_match)
    if version is None:
        raise ApiError(
            428, "version_required", "Send the version you edited (body `version` or If-Match)."
        )
    if body.planned_end_date is None and body.override_reason is None:
        return await service.edit(principal, tracker_id, version, body.changes, body.note)
    if body.changes is not None or body.note is not None:
        raise _invalid("planned_end_date", "send an override on its own, without changes or note")
    if body.planned_end_date is None:
        raise _invalid("planned_end_date", "is required with override_reason")
    if not (body.override_reason or "").strip():
        raise _invalid("override_reason", "is required to override the planned end date")
    return await service.override_planned_end_date(
        principal, tracker_id, version, body.planned_end_date, body.override_reason or ""
    )


@router.post(
    "/trackers/{tracker_id}/allocate",
    response_model=Tracker,
    responses=_DECIDED,
    summary="(Re-)allocate",
)
async def allocate_tracker(
    tracker_id: str, body: AllocateIn, principal: CurrentPrincipal, service: Service
) -> Tracker:
    return await service.allocate(
        principal, tracker_id, body.allocated_to, body.version, body.reason
    )


@router.post(
    "/trackers/{tracker_id}/process",
    response_model=Tracker,
    responses=_DECIDED,
    summary="Approve and apply",
)
async def process_tracker(
    tracker_id: str,
    principal: CurrentPrincipal,
    service: Service,
    body: DecisionIn | None = None,
    if_match: Annotated[str | None, Header()] = None,
) -> Tracker:
    """A break, withdrawal or change of programme is processed on or after its
    `last_day_of_learning`, a completion on or after its `practical_period_end` (ESFA
    LearnActEndDate_04), an EPA result on or after its `achievement_date`; before, 422
    `last_day_not_reached`."""
    version = _expected_version(body.version if body else None, if_match)
    return await service.process(principal, tracker_id, version)


@router.post(
    "/trackers/{tracker_id}/reject",
    response_model=Tracker,
    responses=_DECIDED,
    summary="Reject with a reason",
)
async def reject_tracker(
    tracker_id: str, body: ReasonIn, principal: CurrentPrincipal, service: Service
) -> Tracker:
    return await service.reject(principal, tracker_id, body.reason, body.version)


@router.post(
    "/trackers/{tracker_id}/cancel",
    response_model=Tracker,
    responses=_DECIDED,
    summary="Withdraw the request",
)
async def cancel_tracker(
    tracker_id: str, principal: CurrentPrincipal, service: Service, body: CancelIn | None = None
) -> Tracker:
    return await service.cancel(
        principal, tracker_id, body.reason if body else None, body.version if body else None
    )


# --- bulk -------------------------------------------------------------------------------------


BulkIdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Makes a retried bulk request safe: a repeat with the same key and body "
        "returns the job the first one made (header Idempotent-Replayed: true); the same key "
        "with another body is a 409.",
    ),
]
_ACCEPTED = problem_responses(403, 409) | {
    202: {
        "description": "Stored; worked in the background. Location: the job, to follow it.",
        "headers": {"Location": {"schema": {"type": "string"}}},
    }
}


@router.post(
    "/trackers/bulk",
    status_code=202,
    response_model=BulkJobSummary,
    responses=_ACCEPTED,
    summary="Raise one type for many learners (admin), worked in the background",
)
async def bulk_raise(
    body: BulkRaiseIn,
    principal: Annotated[Principal, roles_allowed(*ADMIN_ROLES)],
    bulk: Bulk,
    response: Response,
    idempotency_key: BulkIdempotencyKey = None,
) -> BulkJobSummary:
    """Each item is raised as `POST /v1/trackers` would raise it, by the caller; an item the
    rules refuse is reported in the job (refused, with the code and reason), not here."""
    items = [item.model_dump() for item in body.items]
    requested = await bulk.request_raise(principal, body.type, items, idempotency_key)
    return _accepted(requested, response)


@router.post(
    "/trackers/bulk-process",
    status_code=202,
    response_model=BulkJobSummary,
    responses=_ACCEPTED,
    summary="Process many trackers (admin), worked in the background",
)
async def bulk_process(
    body: BulkProcessIn,
    principal: Annotated[Principal, roles_allowed(*ADMIN_ROLES)],
    bulk: Bulk,
    response: Response,
    idempotency_key: BulkIdempotencyKey = None,
) -> BulkJobSummary:
    """Each tracker is processed as `POST /v1/trackers/{id}/process` would process it, by the
    caller; one that cannot be (not found, a rule refuses) is reported in the job."""
    requested = await bulk.request_process(principal, body.ids, idempotency_key)
    return _accepted(requested, response)


@router.get(
    "/trackers/bulk-jobs/{job_id}",
    response_model=BulkJobPage,
    summary="A bulk job's progress and its items' results (for whoever asked for it)",
)
async def get_bulk_job(
    job_id: str,
    principal: CurrentPrincipal,
    bulk: Bulk,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    status: Annotated[
        Literal["pending", "raised", "processed", "refused"] | None,
        Query(description="Only items in this state (pending includes started)."),
    ] = None,
) -> BulkJobPage:
    job = await bulk.job(principal, job_id)
    chosen = [i for i in job.items if status is None or i.progress == status]
    summary = _summary(job).model_dump()
    return page_in_memory(BulkJobPage, chosen, _index, (int,), cursor, limit, **summary)


def _index(item: BulkItem) -> tuple[int]:
    return (item.index,)


def _accepted(requested: BulkRequested, response: Response) -> BulkJobSummary:
    response.headers["Location"] = f"/v1/trackers/bulk-jobs/{requested.job.id}"
    if requested.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return _summary(requested.job)


def _summary(job: BulkJob) -> BulkJobSummary:
    return BulkJobSummary(
        id=job.id,
        kind=job.kind,
        tracker_type=job.tracker_type,
        requested_by=job.requested_by.sub,
        status=job.status,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        total=len(job.items),
        counts=job.counts(),
    )


# --- helpers ----------------------------------------------------------------------------------


def _invalid(field: str, reason: str) -> InvalidInput:
    return InvalidInput(f"{field}: {reason}", [FieldProblem(field=field, reason=reason)])


def _expected_version(from_body: int | None, if_match: str | None) -> int | None:
    if if_match is None:
        return from_body
    try:
        return int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError as error:
        reason = 'must be the tracker\'s version, e.g. "3"'
        problems = [{"field": "If-Match", "reason": reason}]
        raise ApiError(422, "bad_if_match", f"If-Match {reason}.", problems) from error


__all__ = ["Principal", "router"]
