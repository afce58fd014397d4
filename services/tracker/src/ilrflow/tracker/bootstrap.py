"""The one place that reads settings and builds the tracker service's objects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from ilrflow.contracts.events import Envelope, EventType, Topics
from ilrflow.platform.kafka import Handler
from ilrflow.platform.mongo import Document
from ilrflow.platform.projections import Projection, live_handlers
from ilrflow.platform.service import ServiceRuntime, create_service_app
from ilrflow.platform.settings import Settings, get_settings
from ilrflow.tracker.adapters.bulk_jobs import BulkJobRepository
from ilrflow.tracker.adapters.projections import (
    ILR,
    LEARNERS,
    OTJ_MINIMUMS,
    STAFF,
    ProjectionRepository,
)
from ilrflow.tracker.adapters.repository import TrackerRepository
from ilrflow.tracker.entrypoints.bulk_worker import BulkWorker
from ilrflow.tracker.entrypoints.http import router
from ilrflow.tracker.entrypoints.openapi import document_raise_variants
from ilrflow.tracker.service.bulk import BulkService
from ilrflow.tracker.service.use_cases import TrackerService

SERVICE = "tracker"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = ServiceRuntime(SERVICE, settings)
    trackers = TrackerRepository(runtime.db)
    views = ProjectionRepository(runtime.db)
    service = TrackerService(trackers, views, runtime.events_written)
    bulk = BulkService(
        BulkJobRepository(runtime.db),
        service,
        job_stored=lambda tenant, job_id: worker.job_stored(tenant, job_id),
        clock=lambda: datetime.now(UTC),
    )
    worker = BulkWorker(bulk)
    runtime.run_in_background("bulk-jobs", worker.run_forever)
    runtime.use_outbox([trackers.trackers, trackers.settings])
    runtime.on_startup(trackers.ensure_indexes)
    runtime.on_startup(trackers.repair_rows)
    runtime.on_startup(views.ensure_indexes)
    consumed = live_handlers(runtime.db, projections(runtime.db))
    learner_events = consumed[Topics.LEARNER_UPDATED]
    learner_events[EventType.LEARNER_UPDATED] = in_turn(
        learner_events[EventType.LEARNER_UPDATED], service.on_learner_updated
    )
    for topic, handlers in consumed.items():
        runtime.consume(topic, handlers)
    runtime.consume(Topics.ILR_UPDATED, {EventType.ILR_UPDATED: service.on_ilr_updated})
    app = create_service_app(
        runtime,
        [router],
        title="ilrflow tracker service",
        description="Trackers and their workflow: raise, allocate, edit, process, reject, cancel.",
    )
    document_raise_variants(app)
    app.state.tracker_service = service
    app.state.bulk_service = bulk
    return app


def in_turn(*handlers: Handler) -> Handler:
    """One consumer per topic: the projection first, then the use case (a learner moved to
    another group takes their trackers along). Each is idempotent, so a retry repeats both."""

    async def handle(event: Envelope[Any]) -> None:
        for handler in handlers:
            await handler(event)

    return handle


def projections(db: AsyncDatabase[Document]) -> list[Projection]:
    """Learners and staff from learner-updated, each learner's ILR from ilr-state, the platform's
    minimum OTJ table from reference-data (``ilrflow projections rebuild tracker NAME``)."""

    async def staff_index(name: str) -> None:
        await ProjectionRepository(db, staff=name).ensure_indexes()

    return [
        Projection(
            name="learners",
            topic=Topics.LEARNER_UPDATED,
            collection=LEARNERS,
            handlers=lambda name: {
                EventType.LEARNER_UPDATED: ProjectionRepository(
                    db, learners=name
                ).on_learner_updated
            },
        ),
        Projection(
            name="staff",
            topic=Topics.LEARNER_UPDATED,
            collection=STAFF,
            handlers=lambda name: {
                EventType.STAFF_UPDATED: ProjectionRepository(db, staff=name).on_staff_updated
            },
            ensure_indexes=staff_index,
        ),
        Projection(
            name="ilr",
            topic=Topics.ILR_STATE,
            collection=ILR,
            handlers=lambda name: {
                EventType.ILR_STATE: ProjectionRepository(db, ilr=name).on_ilr_state
            },
        ),
        Projection(
            name="otj_minimums",
            topic=Topics.REFERENCE_DATA,
            collection=OTJ_MINIMUMS,
            handlers=lambda name: {
                EventType.OTJ_MINIMUMS_LOADED: ProjectionRepository(
                    db, otj_minimums=name
                ).on_otj_minimums_loaded
            },
        ),
    ]
