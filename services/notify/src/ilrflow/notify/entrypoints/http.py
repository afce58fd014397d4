"""The notify service's HTTP API (/v1/notifications): each caller's own inbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from ilrflow.notify.adapters.repository import NotifyRepository
from ilrflow.notify.domain.model import TenantNotifySettings
from ilrflow.platform.auth import CurrentPrincipal, require_role
from ilrflow.platform.http_errors import not_found

router = APIRouter(prefix="/v1", tags=["notifications"])


def get_repository(request: Request) -> NotifyRepository:
    repository: NotifyRepository = request.app.state.notify_repository
    return repository


Repository = Annotated[NotifyRepository, Depends(get_repository)]


class NotificationView(BaseModel):
    id: str
    subject: str
    body_text: str
    body_html: str
    tracker_id: str | None
    learner_id: str | None
    event_type: str
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, document: dict[str, Any]) -> NotificationView:
        return cls.model_validate(
            {k: document.get(k) for k in cls.model_fields} | {"id": document["_id"]}
        )


class NotificationsPage(BaseModel):
    items: list[NotificationView]
    unread: int


class DeliveryView(BaseModel):
    id: str
    recipient_id: str
    email_to: str | None
    subject: str
    tracker_id: str | None
    created_at: datetime
    delivery: dict[str, Any]


@router.get(
    "/notifications", response_model=NotificationsPage, summary="The caller's in-app notifications"
)
async def list_notifications(
    principal: CurrentPrincipal,
    repository: Repository,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NotificationsPage:
    documents = await repository.inbox(principal.tenant, principal.sub, unread, limit)
    count = await repository.unread_count(principal.tenant, principal.sub)
    return NotificationsPage(items=[NotificationView.of(d) for d in documents], unread=count)


@router.get("/notifications/unread-count", summary="How many unread notifications the caller has")
async def unread_count(principal: CurrentPrincipal, repository: Repository) -> dict[str, int]:
    return {"unread": await repository.unread_count(principal.tenant, principal.sub)}


@router.post(
    "/notifications/{notification_id}/read", response_model=NotificationView, summary="Mark read"
)
async def mark_read(
    notification_id: str, principal: CurrentPrincipal, repository: Repository
) -> NotificationView:
    document = await repository.mark_read(
        principal.tenant, principal.sub, notification_id, datetime.now(UTC)
    )
    if document is None:
        raise not_found("notification", notification_id)
    return NotificationView.of(document)


@router.get(
    "/notifications/deliveries",
    response_model=list[DeliveryView],
    summary="Email deliveries of the tenant (operators and admins): pending, sent, failed",
)
async def deliveries(
    principal: CurrentPrincipal,
    repository: Repository,
    status: Literal["pending", "sent", "failed", "not_sent"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryView]:
    require_role(principal, "operator", "admin")
    documents = await repository.deliveries(principal.tenant, status, limit)
    return [DeliveryView.model_validate({**d, "id": d["_id"]}) for d in documents]


@router.put(
    "/notify-settings", response_model=TenantNotifySettings, summary="Tenant notify settings"
)
async def put_settings(
    body: TenantNotifySettings, principal: CurrentPrincipal, repository: Repository
) -> TenantNotifySettings:
    require_role(principal, "admin")
    await repository.save_settings(principal.tenant, body)
    return body
