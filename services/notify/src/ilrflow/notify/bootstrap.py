"""The one place that reads settings and builds the notify service's objects."""

from __future__ import annotations

from fastapi import FastAPI

from ilrflow.notify.adapters.email import EmailSender
from ilrflow.notify.adapters.repository import NotifyRepository
from ilrflow.notify.entrypoints.http import router
from ilrflow.notify.service.use_cases import NotifyService
from ilrflow.shared.events import EventType, Topics
from ilrflow.shared.service import ServiceRuntime, create_service_app
from ilrflow.shared.settings import Settings, get_settings

SERVICE = "notify"
TRACKER_EVENTS = {
    Topics.TRACKER_RAISED: EventType.TRACKER_RAISED,
    Topics.TRACKER_ALLOCATED: EventType.TRACKER_ALLOCATED,
    Topics.TRACKER_PROCESSED: EventType.TRACKER_PROCESSED,
    Topics.TRACKER_REJECTED: EventType.TRACKER_REJECTED,
    Topics.TRACKER_CANCELLED: EventType.TRACKER_CANCELLED,
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = ServiceRuntime(SERVICE, settings)
    repository = NotifyRepository(runtime.db)
    sender = EmailSender(settings, repository)
    service = NotifyService(repository, sender.wake)
    runtime.on_startup(repository.ensure_indexes)
    runtime.consume(
        Topics.LEARNER_UPDATED,
        {
            EventType.LEARNER_UPDATED: service.on_learner_updated,
            EventType.STAFF_UPDATED: service.on_staff_updated,
        },
    )
    for topic, event_type in TRACKER_EVENTS.items():
        runtime.consume(topic, {event_type: service.on_tracker_event})
    runtime.run_in_background("email-sender", sender.run_forever)
    app = create_service_app(
        runtime,
        [router],
        title="ilrflow notify service",
        description="In-app and email notifications for tracker events.",
    )
    app.state.notify_repository = repository
    app.state.email_sender = sender
    return app
