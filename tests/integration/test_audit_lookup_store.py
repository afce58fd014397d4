"""On the real MongoDB-wire server: the audit repository's lookup documents. A key new to the
writer costs an insert of its head and no read; a key it knows costs one ``$push`` per batch and
no head write unless a page, a bucket or an hour is added; a writer that did not write a key
(another process, a restart, heads stored before this layout) reads its head and last page and
carries on where they end; a crash between a new head and its pages loses no ref."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from bench.audit_ingest import backlog
from ilrflow.audit.adapters.repository import AuditRepository, lookup_page_id
from ilrflow.audit.domain.ingest import entry_from_record
from ilrflow.audit.domain.lookup import LookupKey, group_refs, ref_to_text
from ilrflow.audit.domain.records import AuditEntry
from ilrflow.audit.domain.sequence import numbered
from tests.integration.test_audit_ingest_store import CommandsSent

pytestmark = pytest.mark.e2e
TENANT = "bench-tenant"
ALL = LookupKey(TENANT, "all", "")


class CrashError(Exception):
    """The process died here."""


def entries(count: int) -> list[AuditEntry]:
    """``count`` entries of one topic partition's tracker events, numbered from 0 (a minute of
    event time: every batch of them falls in the same hour)."""
    [(topic, partition), *_] = sorted(by_partition := backlog(count * 12, learners=3))
    records = by_partition[(topic, partition)][:count]
    parsed = [
        entry_from_record(topic, partition, r.offset, r.key, r.headers, r.value, r.timestamp_ms)
        for r in records
    ]
    return numbered(parsed, {TENANT: 0})


async def stored_ids(repository: AuditRepository, key: LookupKey) -> list[str]:
    """Every ref stored under ``key``, repeats included, in bucket and page order."""
    found = []
    for bucket, info in sorted((await repository.lookup_buckets(key)).items()):
        found += [ref.entry_id for ref in await repository.lookup_refs(key, bucket, info.pages)]
    return found


def keys_of(batch: Sequence[AuditEntry]) -> list[LookupKey]:
    return list(group_refs(batch))


@pytest.fixture
async def watched(database: Any) -> AsyncIterator[tuple[AuditRepository, CommandsSent]]:
    commands = CommandsSent()
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/"),
        retryWrites=False,
        event_listeners=[commands],
    )
    try:
        yield AuditRepository(client[database.name]), commands
    finally:
        await client.close()


async def test_new_keys_are_inserted_unread_and_known_keys_cost_one_push_each(
    watched: tuple[AuditRepository, CommandsSent],
) -> None:
    repository, commands = watched
    log = entries(60)

    await repository.add_lookups(log[:30])
    assert commands.sent[("find", "audit_lookup_heads")] == 0
    assert commands.sent[("find", "audit_lookup_pages")] == 0

    commands.sent.clear()
    await repository.add_lookups(log[30:])
    continued = set(keys_of(log[:30])) & set(keys_of(log[30:]))
    assert continued  # the tenant's listing, the type, the learners, the actors at least
    assert commands.sent[("update", "audit_lookup_heads")] == 0
    assert commands.sent[("find", "audit_lookup_heads")] == 0
    assert commands.sent[("update", "audit_lookup_pages")] == len(continued)
    assert await stored_ids(repository, ALL) == [e.id for e in log]


async def test_a_writer_that_did_not_write_the_keys_reads_their_heads_and_last_pages(
    database: Any,
) -> None:
    log = entries(60)
    await AuditRepository(database).add_lookups(log[:30])

    restarted = AuditRepository(database)
    await restarted.add_lookups(log[30:])

    assert await stored_ids(restarted, ALL) == [e.id for e in log]
    assert (await restarted.lookup_buckets(ALL))["000000000000"].pages == 1


async def test_heads_stored_before_this_layout_are_read_and_continued(database: Any) -> None:
    """A head that counted its last page's fill and kept exact event times (the layout before
    heads were written only when they move) is read as it is and continued on its last page."""
    log = entries(60)
    for key, buckets in group_refs(log[:30]).items():
        for bucket, refs in buckets.items():
            await database["audit_lookup_pages"].insert_one(
                {"_id": lookup_page_id(key, bucket, 0), "refs": [ref_to_text(r) for r in refs]}
            )
        await database["audit_lookup_heads"].insert_one(
            {
                "_id": key.id,
                **key._asdict(),
                "buckets": {
                    b: {
                        "pages": 1,
                        "fill": len(refs),
                        "first": min(r.time for r in refs),
                        "last": max(r.time for r in refs),
                    }
                    for b, refs in buckets.items()
                },
            }
        )

    repository = AuditRepository(database)
    assert await stored_ids(repository, ALL) == [e.id for e in log[:30]]
    await repository.add_lookups(log[30:])

    assert await stored_ids(repository, ALL) == [e.id for e in log]
    [bucket] = (await repository.lookup_buckets(ALL)).values()
    assert bucket.pages == 1
    assert bucket.first is not None
    assert bucket.first <= log[0].time
    assert bucket.last is not None
    assert bucket.last >= log[-1].time


async def test_a_crash_between_new_heads_and_their_pages_loses_no_ref(database: Any) -> None:
    log = entries(30)
    repository = AuditRepository(database)
    pages = repository.lookup_pages
    insert_many = pages.insert_many

    async def crash(*args: Any, **kwargs: Any) -> Any:
        raise CrashError

    pages.insert_many = crash  # type: ignore[method-assign]
    with pytest.raises(CrashError):
        await repository.add_lookups(log)
    pages.insert_many = insert_many  # type: ignore[method-assign]

    await repository.add_lookups(log)  # the replay
    for key in keys_of(log):
        expected = [e.id for e in log if key in keys_of([e])]
        assert await stored_ids(repository, key) == expected, key
