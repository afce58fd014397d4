"""``ilrflow audit verify`` reads the log once, whatever the number of partitions, shows its
progress on stderr with ``--json`` output left clean, and costs about one read of the log.

On a scratch log built with the audit repository (12 topic partitions): the database commands
verification sends are counted, and its time is compared with a plain read of the same
collection. The rate itself is a figure to read (printed; see docs/benchmark.md), not a pass mark:
this box is shared."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandListener, CommandStartedEvent

from bench.audit_scale import build_timelines
from ilrflow.audit.adapters.repository import AuditRepository
from ilrflow.audit.domain.verify import ChainTail
from ilrflow.audit.service.queries import AuditQueries
from tests.conftest import Stack

pytestmark = pytest.mark.e2e

ENTRIES = 1_500
CLI = "from ilrflow.ops import main; main()"


class _LogCommands(CommandListener):
    """The commands sent to ``audit_entries``, by name."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def started(self, event: CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        if target == "audit_entries" or event.command_name == "getMore":
            collection = event.command.get("collection", target)
            if collection == "audit_entries":
                self.sent[event.command_name] += 1

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


@pytest.mark.timeout(1200)
def test_verify_reads_the_log_once_with_progress_and_clean_json(stack: Stack) -> None:
    prefix = f"verify{secrets.token_hex(3)}"
    database = f"{prefix}_audit"
    asyncio.run(_build(stack.settings.mongo_url, database))
    try:
        commands, verify_seconds, scan_seconds = asyncio.run(
            _verify_counting(stack.settings.mongo_url, database)
        )
        print(
            f"\nverify {ENTRIES} entries: {verify_seconds:.2f} s, one plain read {scan_seconds:.2f} s"
        )
        assert commands["find"] == 1, commands  # one pass, not one per partition
        assert commands["distinct"] == 0, commands
        assert commands["aggregate"] == 0, commands
        assert verify_seconds < 4 * scan_seconds + 2, "verify costs several reads of the log"

        done = subprocess.run(
            [sys.executable, "-c", CLI, "audit", "verify", "--json"],
            env={**os.environ, **stack.env, "ILRFLOW_DB_PREFIX": prefix},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)  # nothing but the report on stdout
        assert (report["entries"], report["verified_entries"]) == (ENTRIES, ENTRIES)
        assert f"verify: {ENTRIES:,} entries in " in done.stderr, done.stderr
        assert "entries/s" in done.stderr
    finally:
        asyncio.run(_drop(stack.settings.mongo_url, database))


async def _build(mongo_url: str, database: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        repository = AuditRepository(client[database])
        await build_timelines(repository, ENTRIES, 100)
        tails: dict[tuple[str, int], ChainTail] = {}
        async for stored in repository.entries.find(
            {}, {"topic": 1, "partition": 1, "offset": 1, "hash": 1}
        ):
            key = (stored["topic"], stored["partition"])
            if key not in tails or stored["offset"] > tails[key].offset:
                tails[key] = ChainTail(stored["offset"], stored["hash"])
        for (topic, partition), tail in tails.items():
            await repository.record_tail(topic, partition, tail)
        assert len(tails) >= 12
    finally:
        await client.close()


async def _verify_counting(mongo_url: str, database: str) -> tuple[Counter[str], float, float]:
    listener = _LogCommands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, tz_aware=True, event_listeners=[listener]
    )
    try:
        queries = AuditQueries(AuditRepository(client[database]), reads_recorded=lambda: None)
        started = time.perf_counter()
        verification = await queries.verify_log()
        verify_seconds = time.perf_counter() - started
        assert verification.ok
        assert verification.verified_entries == ENTRIES
        commands = Counter(listener.sent)
        started = time.perf_counter()
        assert len(await client[database]["audit_entries"].find({}).to_list()) == ENTRIES
        return commands, verify_seconds, time.perf_counter() - started
    finally:
        await client.close()


async def _drop(mongo_url: str, database: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        await client.drop_database(database)
    finally:
        await client.close()
