"""The one place that reads settings and builds the notify service's objects."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from ilrflow.contracts.events import Envelope, EventType, Topics
from ilrflow.notify.adapters.email import EmailSender
from ilrflow.notify.adapters.repository import LEARNERS, STAFF, NotifyRepository
from ilrflow.notify.adapters.webhook_sender import WebhookSender, url_guard
from ilrflow.notify.adapters.webhook_store import WebhookRepository
from ilrflow.notify.domain.webhooks import WEBHOOK_EVENT_TYPES
from ilrflow.notify.entrypoints import webhooks
from ilrflow.notify.entrypoints.http import router
from ilrflow.notify.service.use_cases import NotifyService
from ilrflow.notify.service.webhooks import WebhookService
from ilrflow.platform.kafka import Handler
from ilrflow.platform.mongo import Document
from ilrflow.platform.projections import Projection, live_handlers
from ilrflow.platform.service import ServiceRuntime, create_service_app
from ilrflow.platform.settings import Settings, get_settings

SERVICE = "notify"
TOLD_ABOUT = {
    Topics.TRACKER_RAISED: EventType.TRACKER_RAISED,
    Topics.TRACKER_ALLOCATED: EventType.TRACKER_ALLOCATED,
    Topics.TRACKER_PROCESSED: EventType.TRACKER_PROCESSED,
    Topics.TRACKER_REJECTED: EventType.TRACKER_REJECTED,
    Topics.TRACKER_CANCELLED: EventType.TRACKER_CANCELLED,
    # A new training plan version: the tutor is told it awaits signature.
    Topics.LEARNER_DOCUMENTS: EventType.DOCUMENT_ISSUED,
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = ServiceRuntime(SERVICE, settings)
    repository = NotifyRepository(runtime.db)
    sender = EmailSender(settings, repository)
    service = NotifyService(repository, sender.wake)
    hooks_repository = WebhookRepository(runtime.db)
    hooks_sender = WebhookSender(settings, hooks_repository)
    hooks = WebhookService(hooks_repository, url_guard(settings), hooks_sender.wake)
    runtime.on_startup(repository.ensure_indexes)
    runtime.on_startup(hooks_repository.ensure_indexes)
    for topic, handlers in live_handlers(runtime.db, projections(runtime.db, repository)).items():
        runtime.consume(topic, handlers)
    for topic, event_type in TOLD_ABOUT.items():
        handler: Handler = service.on_tracker_event
        if topic in WEBHOOK_EVENT_TYPES:
            handler = both(service.on_tracker_event, hooks.on_event)
        runtime.consume(topic, {event_type: handler})
    runtime.consume(Topics.ILR_UPDATED, {EventType.ILR_UPDATED: hooks.on_event})
    runtime.run_in_background("email-sender", sender.run_forever)
    runtime.run_in_background("webhook-sender", hooks_sender.run_forever)
    app = create_service_app(
        runtime,
        [router, webhooks.router],
        title="ilrflow notify service",
        description="In-app and email notifications for tracker events, and tenant webhooks.",
    )
    app.state.notify_service = service
    app.state.email_sender = sender
    app.state.webhook_service = hooks
    app.state.webhook_sender = hooks_sender
    return app


def both(first: Handler, second: Handler) -> Handler:
    """One consumer group per topic and service: a tracker event feeds the inbox, then the
    webhooks. Each is idempotent, so a retry after the second fails repeats nothing."""

    async def handle(event: Envelope[Any]) -> None:
        await first(event)
        await second(event)

    return handle


def projections(
    db: AsyncDatabase[Document], live: NotifyRepository | None = None
) -> list[Projection]:
    """The recipient projection, from learner-updated (``ilrflow projections rebuild notify``).
    ``live`` is the repository the service reads through: the handlers of the live collections
    write through it, so its cache of the tenant's staff drops what they change."""

    def service(**collection: str) -> NotifyService:
        repository = NotifyRepository(db, **collection)
        if live is not None and collection in ({"staff": STAFF}, {"learners": LEARNERS}):
            repository = live
        return NotifyService(repository, emails_queued=lambda: None)

    async def staff_index(name: str) -> None:
        await NotifyRepository(db, staff=name).ensure_staff_index()

    return [
        Projection(
            name="learners",
            topic=Topics.LEARNER_UPDATED,
            collection=LEARNERS,
            handlers=lambda name: {
                EventType.LEARNER_UPDATED: service(learners=name).on_learner_updated
            },
        ),
        Projection(
            name="staff",
            topic=Topics.LEARNER_UPDATED,
            collection=STAFF,
            handlers=lambda name: {EventType.STAFF_UPDATED: service(staff=name).on_staff_updated},
            ensure_indexes=staff_index,
        ),
    ]
