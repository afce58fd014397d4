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
from ilrflow.audit.service.queries import AuditQueries
from ilrflow.contracts.identity import Principal
from ilrflow.platform.mongo import Document

pytestmark = pytest.mark.e2e
SUPPORT = Principal(sub="support-1", tenant="bench-tenant", roles=["support"])


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


async def test_a_batch_is_stored_with_one_insert_of_its_entries_and_no_write_per_record(
    watched: tuple[AuditRepository, CommandsSent],
) -> None:
    repository, commands = watched
    ingest = AuditIngest(repository)
    stored = sent_batches = 0
    for topic, partition, records in batches(backlog(120, learners=3), size=20):
        stored += await ingest.store_batch(topic, partition, records)
        sent_batches += 1

    assert stored == 120
    assert commands.sent[("insert", "audit_entries")] == sent_batches
    assert commands.sent[("update", "audit_lookup_pages")] > 0  # later batches push onto pages
    # Lookups, timelines and sequences are written per key and per batch, never per record:
    # no collection gets a command for every record (the busiest, a lookup's pages, gets one
    # per key of a batch).
    assert max(commands.sent.values()) < stored / 2


async def test_a_learner_new_to_the_log_gets_its_timeline_inserted_unread(
    watched: tuple[AuditRepository, CommandsSent],
) -> None:
    repository, commands = watched
    ingest = AuditIngest(repository)
    for topic, partition, records in batches(backlog(120, learners=3), size=20):
        await ingest.store_batch(topic, partition, records)

    # Three learners, each on one partition per topic: the first batch that names a learner
    # inserts its head (no read), the later ones update it.
    assert commands.sent[("find", "audit_learner_timelines")] == 0
    assert commands.sent[("insert", "audit_learner_timelines")] == 3
    queries = AuditQueries(repository, reads_recorded=lambda: None)
    page = await queries.timeline(SUPPORT, "L00000")
    assert len(page.lines) == 40  # 4 trackers of 10 events, none left out
