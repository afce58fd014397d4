"""The one place that reads settings and builds the learner service's objects."""

from __future__ import annotations

from fastapi import FastAPI

from ilrflow.contracts.events import EventType, Topics
from ilrflow.learner.adapters.clients import ApiClientRepository
from ilrflow.learner.adapters.documents import DocumentRepository
from ilrflow.learner.adapters.pdf import PdfRenderer
from ilrflow.learner.adapters.repository import LearnerRepository
from ilrflow.learner.entrypoints import clients, documents, http
from ilrflow.learner.entrypoints.consumers import Consumers
from ilrflow.learner.service.clients import ApiClientService, ClientCredentials
from ilrflow.learner.service.documents import DocumentService
from ilrflow.learner.service.use_cases import LearnerService
from ilrflow.platform.client_tokens import client_token_signer
from ilrflow.platform.mongo import create_client, service_database
from ilrflow.platform.service import ServiceRuntime, create_service_app
from ilrflow.platform.settings import Settings, get_settings

SERVICE = "learner"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = ServiceRuntime(SERVICE, settings)
    repository = LearnerRepository(runtime.db)
    document_repository = DocumentRepository(runtime.db)
    service = LearnerService(repository, runtime.events_written)
    document_service = DocumentService(
        document_repository, repository, PdfRenderer(), runtime.events_written
    )
    client_repository = ApiClientRepository(runtime.db)
    signer = client_token_signer(settings)
    client_service = ApiClientService(client_repository, runtime.events_written)
    credentials = (
        None
        if signer is None
        else ClientCredentials(client_repository, signer, runtime.events_written)
    )
    consumers = Consumers(service, document_service)
    runtime.use_outbox(
        [
            *repository.outbox_collections,
            *document_repository.outbox_collections,
            *client_repository.outbox_collections,
        ]
    )
    runtime.on_startup(repository.ensure_indexes)
    runtime.on_startup(client_repository.ensure_indexes)
    runtime.consume(
        Topics.TRACKER_PROCESSED,
        {EventType.TRACKER_PROCESSED: consumers.on_tracker_processed},
        {EventType.TRACKER_PROCESSED: consumers.on_tracker_processed_chain},
    )
    runtime.consume(
        Topics.ILR_STATE,
        {EventType.ILR_STATE: consumers.on_ilr_state},
        {EventType.ILR_STATE: consumers.on_ilr_state_chain},
    )
    app = create_service_app(
        runtime,
        [http.router, documents.router, clients.router, clients.issuer_router],
        title="ilrflow learner service",
        description="Learners, enrolments, employers, groups, the staff directory, each "
        "learner's training plan, and the tenant's API clients (with their token issuer).",
    )
    app.state.learner_service = service
    app.state.document_service = document_service
    app.state.api_client_service = client_service
    app.state.client_credentials = credentials
    app.state.client_token_signer = signer
    app.state.client_token_issuer = settings.client_token_issuer
    return app


def offline_api_clients(settings: Settings) -> ApiClientService:
    """API client use cases straight on the database, for the operator CLI: the events wait in
    the outbox for a running learner service's relay to publish."""
    database = service_database(create_client(settings), settings, SERVICE)
    return ApiClientService(ApiClientRepository(database), events_written=lambda: None)
