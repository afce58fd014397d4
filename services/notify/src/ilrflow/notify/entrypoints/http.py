"""The notify service's HTTP API (/v1/notifications): each caller's own inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from ilrflow.notify.domain.model import TenantNotifySettings
from ilrflow.notify.service.use_cases import NotifyService
from ilrflow.platform.auth import CurrentPrincipal, Principal, roles_allowed
from ilrflow.platform.openapi import problem_responses

router = APIRouter(prefix="/v1", tags=["notifications"])


def get_service(request: Request) -> NotifyService:
    service: NotifyService = request.app.state.notify_service
    return service


Service = Annotated[NotifyService, Depends(get_service)]


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
    service: Service,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NotificationsPage:
    inbox = await service.inbox(principal, unread, limit)
    items = [NotificationView.of(d) for d in inbox.notifications]
    return NotificationsPage(items=items, unread=inbox.unread)


@router.get("/notifications/unread-count", summary="How many unread notifications the caller has")
async def unread_count(principal: CurrentPrincipal, service: Service) -> dict[str, int]:
    return {"unread": await service.unread_count(principal)}


@router.post(
    "/notifications/{notification_id}/read", response_model=NotificationView, summary="Mark read"
)
async def mark_read(
    notification_id: str, principal: CurrentPrincipal, service: Service
) -> NotificationView:
    return NotificationView.of(await service.mark_read(principal, notification_id))


@router.get(
    "/notifications/deliveries",
    response_model=list[DeliveryView],
    responses=problem_responses(403),
    summary="Email deliveries of the tenant (operators and admins): pending, sent, failed",
)
async def deliveries(
    principal: Annotated[Principal, roles_allowed("operator", "admin")],
    service: Service,
    status: Literal["pending", "sent", "failed", "not_sent"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryView]:
    documents = await service.deliveries(principal, status, limit)
    return [DeliveryView.model_validate({**d, "id": d["_id"]}) for d in documents]


class NotifySettingsIn(TenantNotifySettings):
    """The settings as a request body: a misspelt or unknown member is refused (422), not
    silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@router.put(
    "/notify-settings",
    response_model=TenantNotifySettings,
    responses=problem_responses(403),
    summary="Tenant notify settings",
)
async def put_settings(
    body: NotifySettingsIn,
    principal: Annotated[Principal, roles_allowed("admin")],
    service: Service,
) -> TenantNotifySettings:
    settings = TenantNotifySettings.model_validate(body.model_dump())
    return await service.save_settings(principal, settings)
