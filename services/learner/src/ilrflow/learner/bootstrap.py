"""The one place that reads settings and builds the learner service's objects."""

from __future__ import annotations

from fastapi import FastAPI

from ilrflow.contracts.events import EventType, Topics
from ilrflow.learner.adapters.repository import LearnerRepository
from ilrflow.learner.entrypoints.http import router
from ilrflow.learner.service.use_cases import LearnerService
from ilrflow.platform.service import ServiceRuntime, create_service_app
from ilrflow.platform.settings import Settings, get_settings

SERVICE = "learner"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = ServiceRuntime(SERVICE, settings)
    repository = LearnerRepository(runtime.db)
    service = LearnerService(repository, runtime.events_written)
    runtime.use_outbox(repository.outbox_collections)
    runtime.on_startup(repository.ensure_indexes)
    runtime.consume(
        Topics.TRACKER_PROCESSED, {EventType.TRACKER_PROCESSED: service.on_tracker_processed}
    )
    runtime.consume(Topics.ILR_STATE, {EventType.ILR_STATE: service.on_ilr_state})
    app = create_service_app(
        runtime,
        [router],
        title="ilrflow learner service",
        description="Learners, enrolments, employers, groups and the staff directory.",
    )
    app.state.learner_service = service
    return app
