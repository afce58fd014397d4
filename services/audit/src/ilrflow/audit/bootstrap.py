"""The one place that reads settings and builds the audit service's objects."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI

from ilrflow.audit.adapters.checkpoint_file import CheckpointFile
from ilrflow.audit.adapters.kafka_ingest import AuditConsumer
from ilrflow.audit.adapters.repository import AuditRepository
from ilrflow.audit.domain.checkpoint import CheckpointSigner, development_key, load_private_key
from ilrflow.audit.entrypoints.http import router
from ilrflow.audit.service.checkpoints import AuditCheckpoints, TrustedCheckpoints
from ilrflow.audit.service.ingest import AuditIngest
from ilrflow.audit.service.queries import AuditQueries
from ilrflow.platform.mongo import create_client, service_database
from ilrflow.platform.service import ServiceRuntime, create_service_app
from ilrflow.platform.settings import Settings, get_settings

SERVICE = "audit"
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = ServiceRuntime(SERVICE, settings)
    repository = AuditRepository(runtime.db)
    consumer = AuditConsumer(settings, AuditIngest(repository), runtime.group_id("all-topics"))
    runtime.use_outbox([repository.reads, repository.checkpoints])
    runtime.on_startup(repository.ensure_indexes)
    runtime.run_in_background("audit-ingest", consumer.run_forever)
    runtime.on_metrics(consumer.record_lag)
    signer = checkpoint_signer(settings)
    trusted = trusted_checkpoints(settings, signer)
    checkpoints = AuditCheckpoints(repository, trusted, signer, runtime.events_written)
    if settings.audit_checkpoint_seconds > 0:
        every = settings.audit_checkpoint_seconds
        runtime.run_in_background("audit-checkpoints", lambda: checkpoints.run_forever(every))
    app = create_service_app(
        runtime,
        [router],
        title="ilrflow audit service",
        description="Every message on every topic, hash-chained per partition, for support staff.",
    )
    app.state.audit_queries = AuditQueries(repository, runtime.events_written, trusted)
    app.state.audit_checkpoints = checkpoints
    app.state.audit_consumer = consumer
    return app


def checkpoint_signer(settings: Settings) -> CheckpointSigner:
    """The configured key, else the fixed development key, loudly: its seed is public."""
    if settings.audit_checkpoint_key:
        return CheckpointSigner(load_private_key(settings.audit_checkpoint_key))
    log.warning(
        "ILRFLOW_AUDIT_CHECKPOINT_KEY is not set: audit checkpoints are signed with the public "
        "development key and prove nothing. Set a key of your own in production."
    )
    return CheckpointSigner(development_key())


def trusted_checkpoints(settings: Settings, signer: CheckpointSigner) -> TrustedCheckpoints:
    path = (
        Path(settings.audit_checkpoint_dir) / f"{settings.database_name(SERVICE)}.checkpoints.jsonl"
    )
    return TrustedCheckpoints(CheckpointFile(path), signer.public_key)


def offline_queries(settings: Settings) -> AuditQueries:
    """Queries straight on the database, for the command line (no broker, no HTTP)."""
    database = service_database(create_client(settings), settings, SERVICE)
    trusted = trusted_checkpoints(settings, checkpoint_signer(settings))
    return AuditQueries(AuditRepository(database), reads_recorded=lambda: None, checkpoints=trusted)


def offline_checkpoints(settings: Settings) -> AuditCheckpoints:
    """Checkpoints signed straight from the database, for the command line: the file is written
    here, and the events wait in the outbox for a running audit service's relay to publish."""
    database = service_database(create_client(settings), settings, SERVICE)
    signer = checkpoint_signer(settings)
    trusted = trusted_checkpoints(settings, signer)
    return AuditCheckpoints(AuditRepository(database), trusted, signer, lambda: None)
