"""The audit service's HTTP API (/v1/audit): support, admin and operator roles only."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError

from ilrflow.audit.domain.checkpoint import Checkpoint, public_key_pem
from ilrflow.audit.domain.query import MAX_PAGE_SIZE, TYPE_NAMES, AuditQuery
from ilrflow.audit.domain.records import AuditEntry
from ilrflow.audit.domain.timeline import DEFAULT_LIMIT as DEFAULT_TIMELINE_LIMIT
from ilrflow.audit.domain.timeline import MAX_LIMIT as MAX_TIMELINE_LIMIT
from ilrflow.audit.domain.timeline import TimelineCursor
from ilrflow.audit.domain.verify import AuditVerification
from ilrflow.audit.service.checkpoints import AuditCheckpoints
from ilrflow.audit.service.queries import (
    AuditQueries,
    ExportFormat,
)
from ilrflow.contracts.errors import FieldProblem, InvalidInput
from ilrflow.contracts.visibility import (
    AUDIT_CHECKPOINT_SIGNERS,
    AUDIT_READERS,
    AUDIT_VERIFIERS,
)
from ilrflow.platform.auth import CurrentPrincipal, Principal, roles_allowed
from ilrflow.platform.openapi import problem_responses

router = APIRouter(prefix="/v1/audit", tags=["audit"])
AUDIT_READ = "audit:read"  # the scope of an API client that reads the audit log
INCLUDE_ACCESS = (
    "Also show the audit log's records of its own reads (ilrflow.audit.accessed.v1), left out "
    "by default; asking for that type by `type` shows them too"
)
# Exactly "true" or "false": a lax boolean would take "1", "yes" or "on" too, which a reader of
# the documents cannot know.
IncludeAccess = Annotated[Literal["true", "false"], Query(description=INCLUDE_ACCESS)]


def get_queries(request: Request) -> AuditQueries:
    queries: AuditQueries = request.app.state.audit_queries
    return queries


Queries = Annotated[AuditQueries, Depends(get_queries)]


class AuditEventView(BaseModel):
    id: str
    topic: str
    partition: int
    offset: int
    time: datetime
    event_id: str | None
    event_type: str | None
    tenant: str | None
    learner_id: str | None
    tracker_id: str | None
    actor: str | None
    correlation_id: str | None
    causation_id: str | None
    duplicate_of: str | None
    dead_letter: dict[str, Any] | None
    problems: list[str]
    payload: dict[str, Any] | None
    hash: str | None
    prev_hash: str | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEventView:
        return cls(
            **entry.model_dump(
                include={
                    "id",
                    "topic",
                    "partition",
                    "offset",
                    "time",
                    "event_id",
                    "event_type",
                    "tenant",
                    "learner_id",
                    "tracker_id",
                    "actor",
                    "correlation_id",
                    "causation_id",
                    "duplicate_of",
                    "problems",
                    "hash",
                    "prev_hash",
                }
            ),
            dead_letter=entry.dead_letter.model_dump() if entry.dead_letter else None,
            payload=entry.payload(),
        )


class TimelineLineView(BaseModel):
    time: datetime
    entry_id: str
    text: str


class LearnerTimeline(BaseModel):
    items: list[TimelineLineView]
    next_cursor: str | None


class AuditEventsPage(BaseModel):
    items: list[AuditEventView]
    next_cursor: str | None


def refuse_unknown_parameters(request: Request, known: Iterable[str]) -> None:
    """A misspelt filter (``learner=`` for ``learner_id=``) would otherwise be ignored and the
    answer silently wider than asked; and every audit read is recorded, so say no instead."""
    unknown = sorted(set(request.query_params) - set(known))
    if unknown:
        problems = [FieldProblem(field=name, reason="unknown query parameter") for name in unknown]
        raise InvalidInput(f"Unknown query parameter(s): {', '.join(unknown)}.", problems)


QUERY_PARAMETERS = frozenset(f.alias or name for name, f in AuditQuery.model_fields.items())


def audit_query(
    request: Request,
    learner_id: str | None = None,
    tracker_id: str | None = None,
    type: Annotated[
        str | None,
        Query(
            description="Event type (ilrflow.tracker.processed.v1) or the topic that carries it "
            "(tracker-processed); anything else is refused with 422",
            json_schema_extra={"enum": list(TYPE_NAMES)},
        ),
    ] = None,
    actor: str | None = None,
    correlation_id: str | None = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
    cursor: str | None = None,
    order: Literal["newest", "oldest"] = "newest",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    include_access: IncludeAccess = "false",
) -> AuditQuery:
    refuse_unknown_parameters(request, QUERY_PARAMETERS)
    try:
        return AuditQuery.model_validate(
            {
                "learner_id": learner_id,
                "tracker_id": tracker_id,
                "type": type,
                "actor": actor,
                "correlation_id": correlation_id,
                "from": from_,
                "to": to,
                "cursor": cursor,
                "order": order,
                "limit": limit,
                "include_access": include_access == "true",
            }
        )
    except ValidationError as error:
        problems = [
            FieldProblem(field=".".join(map(str, e["loc"])) or "query", reason=e["msg"])
            for e in error.errors()
        ]
        raise InvalidInput("The query is not valid.", problems) from error


@router.get(
    "/events",
    response_model=AuditEventsPage,
    responses=problem_responses(403),
    summary="Search the audit log",
)
async def search(
    principal: Annotated[Principal, roles_allowed(*AUDIT_READERS, scope=AUDIT_READ)],
    queries: Queries,
    query: Annotated[AuditQuery, Depends(audit_query)],
) -> AuditEventsPage:
    page = await queries.search(principal, query)
    return AuditEventsPage(
        items=[AuditEventView.of(e) for e in page.entries], next_cursor=page.next_cursor
    )


@router.get(
    "/events/{entry_id}",
    response_model=AuditEventView,
    responses=problem_responses(403),
    summary="One audit entry",
)
async def get_entry(
    entry_id: str,
    principal: Annotated[Principal, roles_allowed(*AUDIT_READERS, scope=AUDIT_READ)],
    queries: Queries,
) -> AuditEventView:
    return AuditEventView.of(await queries.get(principal, entry_id))


@router.get(
    "/learners/{learner_id}/timeline",
    response_model=LearnerTimeline,
    responses=problem_responses(403),
    summary="A learner's history as readable lines, oldest first, a page at a time",
)
async def learner_timeline(
    learner_id: str,
    request: Request,
    principal: Annotated[Principal, roles_allowed(*AUDIT_READERS, scope=AUDIT_READ)],
    queries: Queries,
    include_access: IncludeAccess = "false",
    cursor: Annotated[str | None, Query(description="The `next_cursor` of the page before")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_TIMELINE_LIMIT)] = DEFAULT_TIMELINE_LIMIT,
) -> LearnerTimeline:
    refuse_unknown_parameters(request, {"include_access", "cursor", "limit"})
    page = await queries.timeline(
        principal,
        learner_id,
        cursor=timeline_cursor(cursor),
        limit=limit,
        include_access=include_access == "true",
    )
    return LearnerTimeline(
        items=[TimelineLineView(time=x.time, entry_id=x.entry_id, text=x.text) for x in page.lines],
        next_cursor=page.next_cursor,
    )


def timeline_cursor(cursor: str | None) -> TimelineCursor | None:
    try:
        return None if cursor is None else TimelineCursor.decode(cursor)
    except ValueError as error:
        problems = [FieldProblem(field="cursor", reason="not a cursor this API gave")]
        raise InvalidInput("The cursor is not valid.", problems) from error


EXPORT_MEDIA_TYPES: dict[ExportFormat, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


async def _export(
    principal: Principal,
    queries: AuditQueries,
    query: AuditQuery,
    fmt: ExportFormat,
) -> Response:
    content = await queries.export(principal, query, fmt)
    disposition = f'attachment; filename="audit-{principal.tenant}.{fmt}"'
    return Response(
        content,
        media_type=EXPORT_MEDIA_TYPES[fmt],
        headers={"content-disposition": disposition},
    )


def _file_response(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"description": description, "content": {media_type: binary}}}


@router.get(
    "/export.csv",
    summary="The same selection as /events, as CSV (no pages)",
    response_class=Response,
    responses=_file_response("text/csv", "UTF-8 CSV with a byte-order mark, one row per entry")
    | problem_responses(403),
)
async def export_csv(
    principal: Annotated[Principal, roles_allowed(*AUDIT_READERS, scope=AUDIT_READ)],
    queries: Queries,
    query: Annotated[AuditQuery, Depends(audit_query)],
) -> Response:
    return await _export(principal, queries, query, "csv")


@router.get(
    "/export.xlsx",
    summary="The same selection as /events, as XLSX (no pages)",
    response_class=Response,
    responses=_file_response(EXPORT_MEDIA_TYPES["xlsx"], "One row per entry")
    | problem_responses(403),
)
async def export_xlsx(
    principal: Annotated[Principal, roles_allowed(*AUDIT_READERS, scope=AUDIT_READ)],
    queries: Queries,
    query: Annotated[AuditQuery, Depends(audit_query)],
) -> Response:
    return await _export(principal, queries, query, "xlsx")


@router.get(
    "/verify",
    response_model=AuditVerification,
    responses=problem_responses(403),
    summary="Recompute every hash chain",
)
async def verify(
    principal: Annotated[Principal, roles_allowed(*AUDIT_VERIFIERS)], queries: Queries
) -> AuditVerification:
    return await queries.verify(principal)


def get_checkpoints(request: Request) -> AuditCheckpoints:
    checkpoints: AuditCheckpoints = request.app.state.audit_checkpoints
    return checkpoints


Checkpoints = Annotated[AuditCheckpoints, Depends(get_checkpoints)]


class PublicKey(BaseModel):
    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: str
    public_key_pem: str


class SignedCheckpoints(BaseModel):
    signed: list[Checkpoint]
    unchanged: int
    refused: list[Checkpoint] = Field(
        description="Latest checkpoints the log no longer holds: those chains were rewritten "
        "and are not signed again (run verify)."
    )


@router.get(
    "/checkpoints/public-key",
    response_model=PublicKey,
    summary="The key that checks audit checkpoints' signatures (any signed-in caller)",
)
async def checkpoint_public_key(principal: CurrentPrincipal, checkpoints: Checkpoints) -> PublicKey:
    return PublicKey(
        key_id=checkpoints.key_id, public_key_pem=public_key_pem(checkpoints.public_key)
    )


@router.post(
    "/checkpoints",
    response_model=SignedCheckpoints,
    responses=problem_responses(403),
    summary="Sign every hash chain's head that moved since its latest checkpoint (operator)",
)
async def sign_checkpoints(
    principal: Annotated[Principal, roles_allowed(*AUDIT_CHECKPOINT_SIGNERS)],
    checkpoints: Checkpoints,
) -> SignedCheckpoints:
    heads = await checkpoints.sign_heads(actor=principal.sub)
    return SignedCheckpoints(signed=heads.signed, unchanged=heads.unchanged, refused=heads.refused)
