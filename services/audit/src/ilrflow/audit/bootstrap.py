"""The one place that reads settings and builds the audit service's objects."""

from __future__ import annotations

from fastapi import FastAPI

from ilrflow.audit.adapters.kafka_ingest import AuditConsumer
from ilrflow.audit.adapters.repository import AuditRepository
from ilrflow.audit.entrypoints.http import router
from ilrflow.audit.service.ingest import AuditIngest
from ilrflow.audit.service.queries import AuditQueries
from ilrflow.platform.mongo import create_client, service_database
from ilrflow.platform.service import ServiceRuntime, create_service_app
from ilrflow.platform.settings import Settings, get_settings

SERVICE = "audit"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = ServiceRuntime(SERVICE, settings)
    repository = AuditRepository(runtime.db)
    consumer = AuditConsumer(settings, AuditIngest(repository), runtime.group_id("all-topics"))
    runtime.use_outbox([repository.reads])
    runtime.on_startup(repository.ensure_indexes)
    runtime.run_in_background("audit-ingest", consumer.run_forever)
    runtime.on_metrics(consumer.record_lag)
    app = create_service_app(
        runtime,
        [router],
        title="ilrflow audit service",
        description="Every message on every topic, hash-chained per partition, for support staff.",
    )
    app.state.audit_queries = AuditQueries(repository, runtime.events_written)
    app.state.audit_consumer = consumer
    return app


def offline_queries(settings: Settings) -> AuditQueries:
    """Queries straight on the database, for the command line (no broker, no HTTP)."""
    database = service_database(create_client(settings), settings, SERVICE)
    return AuditQueries(AuditRepository(database), reads_recorded=lambda: None)
