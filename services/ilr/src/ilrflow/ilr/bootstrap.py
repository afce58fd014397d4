"""The one place that reads settings and builds the ILR service's objects."""

from __future__ import annotations

from fastapi import FastAPI

from ilrflow.contracts.events import EventType, Topics
from ilrflow.ilr.adapters.cached import CachedReference, CachedSettings
from ilrflow.ilr.adapters.reference import ReferenceRepository
from ilrflow.ilr.adapters.repository import IlrRepository
from ilrflow.ilr.adapters.settings import IlrSettingsRepository
from ilrflow.ilr.entrypoints.http import router
from ilrflow.ilr.service.use_cases import IlrService
from ilrflow.platform.cache import FreshFor
from ilrflow.platform.service import ServiceRuntime, create_service_app
from ilrflow.platform.settings import Settings, get_settings

SERVICE = "ilr"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = ServiceRuntime(SERVICE, settings)
    repository = IlrRepository(runtime.db)
    reference = ReferenceRepository(runtime.db)
    tenant_settings = IlrSettingsRepository(runtime.db)
    max_age = settings.ilr_reference_cache_seconds
    service = IlrService(
        repository,
        CachedSettings(tenant_settings, FreshFor(max_age)),
        CachedReference(reference, FreshFor(max_age)),
        runtime.events_written,
        default_ukprn=settings.default_ukprn,
    )
    runtime.use_outbox([repository.records, reference.reference, tenant_settings.settings])
    runtime.on_startup(repository.ensure_indexes)
    runtime.consume(Topics.LEARNER_UPDATED, {EventType.LEARNER_UPDATED: service.on_learner_updated})
    runtime.consume(
        Topics.TRACKER_PROCESSED,
        {EventType.TRACKER_PROCESSED: service.on_tracker_processed},
        {EventType.TRACKER_PROCESSED: service.on_tracker_processed_chain},
    )
    app = create_service_app(
        runtime,
        [router],
        title="ilrflow ILR service",
        description="Each learner's ILR, versioned; applies processed trackers by the funding rules.",
    )
    app.state.ilr_service = service
    return app
