"""The one place that reads settings and builds the tracker service's objects."""

from __future__ import annotations

from fastapi import FastAPI

from ilrflow.shared.events import EventType, Topics
from ilrflow.shared.service import ServiceRuntime, create_service_app
from ilrflow.shared.settings import Settings, get_settings
from ilrflow.tracker.adapters.projections import ProjectionRepository
from ilrflow.tracker.adapters.repository import TrackerRepository
from ilrflow.tracker.entrypoints.http import install_domain_error_handlers, router
from ilrflow.tracker.service.use_cases import TrackerService

SERVICE = "tracker"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = ServiceRuntime(SERVICE, settings)
    trackers = TrackerRepository(runtime.db)
    projections = ProjectionRepository(runtime.db)
    service = TrackerService(trackers, projections, runtime.events_written)
    runtime.use_outbox([trackers.trackers])
    runtime.on_startup(trackers.ensure_indexes)
    runtime.on_startup(projections.ensure_indexes)
    runtime.consume(
        Topics.LEARNER_UPDATED,
        {
            EventType.LEARNER_UPDATED: projections.on_learner_updated,
            EventType.STAFF_UPDATED: projections.on_staff_updated,
        },
    )
    runtime.consume(Topics.ILR_UPDATED, {EventType.ILR_UPDATED: service.on_ilr_updated})
    runtime.consume(Topics.ILR_STATE, {EventType.ILR_STATE: projections.on_ilr_state})
    app = create_service_app(
        runtime,
        [router],
        title="ilrflow tracker service",
        description="Trackers and their workflow: raise, allocate, edit, process, reject, cancel.",
    )
    install_domain_error_handlers(app)
    app.state.tracker_service = service
    return app
