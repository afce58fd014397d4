"""On the real MongoDB-wire server: what the audit ingest sends to the database per batch."""

from __future__ import annotations

import os
import secrets
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient, monitoring

from bench.audit_ingest import backlog, batches
from ilrflow.audit.adapters.repository import AuditRepository
from ilrflow.audit.service.ingest import AuditIngest
from ilrflow.platform.ferretdb import WRITE_LOCKS
from ilrflow.platform.mongo import Document

pytestmark = pytest.mark.e2e


class CommandsSent(monitoring.CommandListener):
    """(command, collection) of every command the client sends."""

    def __init__(self) -> None:
        self.sent: Counter[tuple[str, str]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent[(event.command_name, str(event.command.get(event.command_name)))] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Only the commands sent count."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Only the commands sent count."""


@pytest.fixture
async def watched() -> AsyncIterator[tuple[AuditRepository, CommandsSent]]:
    commands = CommandsSent()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/"),
        retryWrites=False,
        event_listeners=[commands],
    )
    name = f"itest{secrets.token_hex(3)}"
    try:
        yield AuditRepository(client[name]), commands
    finally:
        await client.drop_database(name)
        await client.close()


async def test_batches_update_the_lookups_without_taking_write_locks(
    watched: tuple[AuditRepository, CommandsSent],
) -> None:
    # The lookup and sequence updates are unconditional updates by _id, atomic on the server:
    # a write lock around each (an insert and a delete in write_locks) only doubled their cost.
    repository, commands = watched
    ingest = AuditIngest(repository)
    stored = 0
    for topic, partition, records in batches(backlog(120, learners=3), size=20):
        stored += await ingest.store_batch(topic, partition, records)

    assert stored == 120
    assert commands.sent[("update", "audit_lookup_pages")] > 0  # later batches push onto pages
    assert commands.sent[("insert", WRITE_LOCKS)] == 0
    assert commands.sent[("delete", WRITE_LOCKS)] == 0
