"""The training plan's HTTP API: the versions, a version's PDF, an acknowledgement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from ilrflow.learner.service.documents import AcknowledgementIn, DocumentService, DocumentView
from ilrflow.platform.auth import CurrentPrincipal
from ilrflow.platform.openapi import problem_responses
from ilrflow.platform.paging import DEFAULT_PAGE_SIZE, Cursor, Limit, Page, page_in_memory

router = APIRouter(prefix="/v1", tags=["documents"])


def get_service(request: Request) -> DocumentService:
    service: DocumentService = request.app.state.document_service
    return service


Service = Annotated[DocumentService, Depends(get_service)]


class DocumentPage(Page[DocumentView]):
    """Training plan versions, newest first."""


@router.get(
    "/learners/{learner_id}/documents",
    response_model=DocumentPage,
    summary="The learner's training plan versions, newest first",
)
async def list_documents(
    learner_id: str,
    principal: CurrentPrincipal,
    service: Service,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> DocumentPage:
    versions = await service.list_documents(principal, learner_id)
    return page_in_memory(
        DocumentPage, versions, lambda v: (v.version,), (int,), cursor, limit, descending=True
    )


@router.get(
    "/learners/{learner_id}/documents/{document_id}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The PDF as issued."}},
    summary="One version of the training plan as a PDF",
)
async def document_pdf(
    learner_id: str, document_id: str, principal: CurrentPrincipal, service: Service
) -> Response:
    pdf = await service.pdf(principal, learner_id, document_id)
    return Response(content=pdf, media_type="application/pdf")


@router.post(
    "/learners/{learner_id}/documents/{document_id}/acknowledge",
    response_model=DocumentView,
    responses=problem_responses(403, 409),
    summary="Record the learner's, or (staff) the employer's, acknowledgement of a version",
)
async def acknowledge(
    learner_id: str,
    document_id: str,
    body: AcknowledgementIn,
    principal: CurrentPrincipal,
    service: Service,
) -> DocumentView:
    return await service.acknowledge(principal, learner_id, document_id, body)
