"""The webhooks HTTP API (/v1/webhooks): a tenant admin's subscriptions, deliveries and replay."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from ilrflow.notify.domain.webhooks import WEBHOOK_EVENT_TYPES, Delivery, Subscription
from ilrflow.notify.entrypoints.http import newest_first
from ilrflow.notify.service.webhooks import WebhookService
from ilrflow.platform.auth import Principal, roles_allowed
from ilrflow.platform.openapi import problem_responses
from ilrflow.platform.paging import (
    DEFAULT_PAGE_SIZE,
    Cursor,
    Limit,
    Page,
    page_in_memory,
    page_of,
)

# Only a tenant admin manages webhooks (403 for anyone else); decided before the body is validated.
router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=problem_responses(403))
# A tenant admin, or an API client granted webhooks:manage.
Admin = Annotated[Principal, roles_allowed("admin", scope="webhooks:manage")]


def get_service(request: Request) -> WebhookService:
    service: WebhookService = request.app.state.webhook_service
    return service


Service = Annotated[WebhookService, Depends(get_service)]


class NewWebhook(BaseModel):
    url: str = Field(max_length=2000, description="http(s) URL the deliveries are POSTed to.")
    event_types: list[str] = Field(
        min_length=1,
        max_length=20,
        description="Event types, exact or a prefix ending in '*': "
        + ", ".join(WEBHOOK_EVENT_TYPES)
        + ", tracker-*.",
    )


class WebhookView(BaseModel):
    id: str
    url: str
    event_types: list[str]
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, subscription: Subscription) -> WebhookView:
        return cls.model_validate(subscription.model_dump(include=set(cls.model_fields)))


class WebhookWithSecret(WebhookView):
    secret: str = Field(description="whsec_...: shown only here, when created or rotated.")

    @classmethod
    def of(cls, subscription: Subscription) -> WebhookWithSecret:
        return cls.model_validate(subscription.model_dump(include=set(cls.model_fields)))


class DeliveryView(BaseModel):
    id: str = Field(description="Also the webhook-id header of every try.")
    subscription_id: str
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "dead"]
    attempts: list[dict[str, Any]]
    next_attempt_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryView:
        return cls.model_validate(delivery.model_dump(include=set(cls.model_fields)))


class WebhookPage(Page[WebhookView]):
    """Webhooks, oldest first."""


class DeliveryPage(Page[DeliveryView]):
    """A webhook's deliveries, newest first."""


@router.post("", status_code=201, response_model=WebhookWithSecret, summary="Subscribe a URL")
async def subscribe(body: NewWebhook, principal: Admin, service: Service) -> WebhookWithSecret:
    return WebhookWithSecret.of(await service.subscribe(principal, body.url, body.event_types))


@router.get("", response_model=WebhookPage, summary="The tenant's webhooks, oldest first")
async def list_webhooks(
    principal: Admin, service: Service, cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE
) -> WebhookPage:
    # A tenant has a handful of webhooks: the page is cut from all of them.
    views = sorted((WebhookView.of(s) for s in await service.subscriptions(principal)), key=_made)
    return page_in_memory(WebhookPage, views, _made, (datetime, str), cursor, limit)


def _made(view: WebhookView) -> tuple[datetime, str]:
    return view.created_at, view.id


@router.delete("/{webhook_id}", status_code=204, summary="Unsubscribe")
async def unsubscribe(webhook_id: str, principal: Admin, service: Service) -> Response:
    await service.unsubscribe(principal, webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookWithSecret,
    summary="A new signing secret, shown once",
)
async def rotate_secret(webhook_id: str, principal: Admin, service: Service) -> WebhookWithSecret:
    return WebhookWithSecret.of(await service.rotate_secret(principal, webhook_id))


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    summary="The delivery log of a webhook, newest first",
)
async def deliveries(
    webhook_id: str,
    principal: Admin,
    service: Service,
    status: Literal["pending", "delivered", "dead"] | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> DeliveryPage:
    found = await service.deliveries(principal, webhook_id, status, newest_first(cursor), limit + 1)
    views = [DeliveryView.of(d) for d in found]
    return page_of(DeliveryPage, views, limit, lambda d: (d.created_at, d.id))


@router.post(
    "/deliveries/{delivery_id}/replay",
    status_code=202,
    response_model=DeliveryView,
    summary="Send a delivery again (dead or delivered)",
)
async def replay(delivery_id: str, principal: Admin, service: Service) -> DeliveryView:
    return DeliveryView.of(await service.replay(principal, delivery_id))
