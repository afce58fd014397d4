"""The notify service's HTTP API (/v1/notifications): each caller's own inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ilrflow.notify.domain.model import TenantNotifySettings
from ilrflow.notify.service.use_cases import NotifyService
from ilrflow.platform.auth import CurrentPrincipal, Principal, roles_allowed
from ilrflow.platform.openapi import problem_responses
from ilrflow.platform.paging import (
    DEFAULT_PAGE_SIZE,
    Cursor,
    Key,
    Limit,
    Page,
    decode_cursor,
    page_of,
)

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


class NotificationsPage(Page[NotificationView]):
    """The caller's notifications, newest first, and how many are unread in all."""

    unread: int


class SentView(BaseModel):
    """A notification sent about a learner: to whom, how, and (an email) whether it went."""

    id: str
    recipient_id: str
    channel: str
    subject: str
    tracker_id: str | None
    event_type: str
    created_at: datetime
    delivery_status: str | None = Field(
        description="An email's: pending, sent, failed or not_sent; null in the app."
    )

    @classmethod
    def of(cls, document: dict[str, Any]) -> SentView:
        fields = {k: document.get(k) for k in cls.model_fields if k != "delivery_status"}
        status = (document.get("delivery") or {}).get("status")
        return cls.model_validate(fields | {"id": document["_id"], "delivery_status": status})


class SentPage(Page[SentView]):
    """Notifications sent about a learner, newest first."""


class DeliveryView(BaseModel):
    id: str
    recipient_id: str
    email_to: str | None
    subject: str
    tracker_id: str | None
    created_at: datetime
    delivery: dict[str, Any]


class DeliveryPage(Page[DeliveryView]):
    """Email deliveries, newest first."""


def newest_first(cursor: str | None) -> tuple[datetime, str] | None:
    """The key in a cursor of a newest-first list (created_at, then id)."""
    after = decode_cursor(cursor, (datetime, str))
    return None if after is None else (cast(datetime, after[0]), str(after[1]))


def _key(view: NotificationView | DeliveryView | SentView) -> Key:
    return view.created_at, view.id


@router.get(
    "/notifications", response_model=NotificationsPage, summary="The caller's in-app notifications"
)
async def list_notifications(
    principal: CurrentPrincipal,
    service: Service,
    unread: bool = False,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> NotificationsPage:
    inbox = await service.inbox(principal, unread, newest_first(cursor), limit + 1)
    found = [NotificationView.of(d) for d in inbox.notifications]
    return page_of(NotificationsPage, found, limit, _key, unread=inbox.unread)


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
    "/learners/{learner_id}/notifications",
    response_model=SentPage,
    responses=problem_responses(404),
    summary="The notifications sent about a learner (whoever may read the learner), newest first",
)
async def about_learner(
    learner_id: str,
    principal: CurrentPrincipal,
    service: Service,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> SentPage:
    documents = await service.about_learner(principal, learner_id, newest_first(cursor), limit + 1)
    return page_of(SentPage, [SentView.of(d) for d in documents], limit, _key)


@router.get(
    "/notifications/deliveries",
    response_model=DeliveryPage,
    responses=problem_responses(403),
    summary="Email deliveries of the tenant (operators and admins), newest first",
)
async def deliveries(
    principal: Annotated[Principal, roles_allowed("operator", "admin")],
    service: Service,
    status: Literal["pending", "sent", "failed", "not_sent"] | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> DeliveryPage:
    documents = await service.deliveries(principal, status, newest_first(cursor), limit + 1)
    found = [DeliveryView.model_validate({**d, "id": d["_id"]}) for d in documents]
    return page_of(DeliveryPage, found, limit, _key)


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
