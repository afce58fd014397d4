"""A client that follows ``next_cursor`` from the start sees every entry exactly once, even while
entries are being written: on the running stack during a burst of trackers, and on a scratch
database where a walk takes a page between every write the real ingest makes (late entries,
several partitions, crashes between the entries and their lookups and the replays after them),
for pages and exports alike.

What a walk promises (services/audit/README.md): oldest first, every entry in the order the log
stored it, including those stored while walking; newest first, the log as it was at the first
page. So an oldest-first walk is always a prefix of the final log, and a newest-first walk read
backwards is one too."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient, MongoClient

from ilrflow.audit.adapters.repository import AuditRepository
from ilrflow.audit.domain.query import AuditQuery
from ilrflow.audit.service.ingest import AuditIngest, RawRecord
from ilrflow.audit.service.queries import AuditQueries
from ilrflow.contracts.events import TrackerRaised, new_event, to_wire
from ilrflow.platform.auth import Principal
from tests.conftest import Stack, eventually
from tests.e2e.helpers import Tenant, configure_trackers, known_learner, tenant_with_staff

pytestmark = pytest.mark.e2e

BURST = 12
ADDRESS = {"address": {"lines": ["22 Mill Lane", "Bradford"], "postcode": "BD1 1AA"}}


def test_cursor_walks_during_a_burst_of_trackers_see_every_entry_once(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    configure_trackers(tenant)
    learner_id = known_learner(tenant)
    support = tenant.as_("audit", "support-1", "support")
    walks: dict[str, list[list[str]]] = {"oldest": [], "newest": []}
    burst = threading.Thread(target=_raise_and_process, args=(tenant, learner_id, BURST))
    burst.start()
    while burst.is_alive() or len(walks["oldest"]) < 3:
        for order in ("oldest", "newest"):
            # include_access: the walks' own reads are entries about the learner too, written
            # while walking, which makes them the hardest case; the log holds them all.
            selection = {"learner_id": learner_id, "order": order, "include_access": "true"}
            walks[order].append(_walk(support, selection))
    burst.join()

    stored = _stored_ids(stack, tenant.name, learner_id)
    everything = {"learner_id": learner_id, "include_access": "true"}
    final = eventually(lambda: _covering(_walk(support, everything), stored))
    final.reverse()  # newest first: the log as of the walk's first page
    assert len(set(final)) == len(final)
    for walk in walks["oldest"]:
        assert walk == final[: len(walk)], "an oldest-first walk skipped or repeated an entry"
    for walk in walks["newest"]:
        assert walk[::-1] == final[: len(walk)], "a newest-first walk skipped or repeated one"
    processed = [w for w in walks["oldest"] if len(w) > len(walks["oldest"][0])]
    assert processed, "no walk ran while the burst was being written"


def _raise_and_process(tenant: Tenant, learner_id: str, count: int) -> None:
    with tenant.admin("tracker") as http:
        for _ in range(count):
            raised = http.post(
                "/v1/trackers",
                json={"type": "change_of_address", "learner_id": learner_id, "changes": ADDRESS},
            )
            assert raised.status_code == 201, raised.text
            processed = http.post(f"/v1/trackers/{raised.json()['id']}/process")
            assert processed.status_code == 200, processed.text


def _walk(client: httpx.Client, selection: dict[str, str], limit: int = 2) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params = {**selection, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/audit/events", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["items"] or page["next_cursor"] is None, "an empty page with a cursor"
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def _stored_ids(stack: Stack, tenant: str, learner_id: str) -> set[str]:
    """The learner's entries in the log itself (a scan: fine for a test's small log)."""
    client: MongoClient[dict[str, Any]] = MongoClient(stack.settings.mongo_url)
    try:
        log = client[stack.settings.database_name("audit")]["audit_entries"]
        return {
            d["_id"] for d in log.find({"tenant": tenant, "learner_id": learner_id}, {"_id": 1})
        }
    finally:
        client.close()


def _covering(walk: list[str], stored: set[str]) -> list[str] | None:
    return walk if stored <= set(walk) else None


# --- a walk between every write of the real ingest, on a scratch database ------------------

TENANT = "acme"
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
SUPPORT = Principal(sub="support-1", tenant=TENANT, roles=["support"])


def test_a_walk_between_every_ingest_write_sees_every_entry_once(stack: Stack) -> None:
    asyncio.run(_walk_between_writes(stack.settings.mongo_url))


async def _walk_between_writes(mongo_url: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    name = f"test_audit_walks_{secrets.token_hex(3)}"
    repository = AuditRepository(client[name])
    queries = AuditQueries(repository, reads_recorded=lambda: None)
    walker = _InterleavedWalks(queries)
    try:
        _before_every_write(repository, walker.step)
        ingest = AuditIngest(repository)
        for n, (topic, partition, records) in enumerate(_batches()):
            if n in CRASHES:
                with _crashing_lookups(repository, halfway=CRASHES[n]), pytest.raises(CrashError):
                    await ingest.store_batch(topic, partition, records)
                ingest = AuditIngest(repository)  # restarted: the records come again
            await ingest.store_batch(topic, partition, records)
        _before_every_write(repository, None)
        final = await _all_pages(queries, AuditQuery(order="oldest", limit=500))
        stored = {e.id for e in await _tenant_entries(repository)}
        assert set(final) == stored
        assert len(final) == len(stored)
        assert walker.steps > 20
        for walk, still_open in await walker.finish():
            assert walk == final[: len(walk)], "a walk across the writes skipped or repeated one"
            assert walk == final or not still_open, "a walk open at the end did not reach it"
        for walk in walker.newest + walker.exports_newest:
            assert walk[::-1] == final[: len(walk)], "a newest-first walk is not a past log"
        for walk in walker.exports_oldest:
            assert walk == final[: len(walk)], "an export skipped an entry"
    finally:
        await client.drop_database(name)
        await client.close()


class _InterleavedWalks:
    """Before each write: start an oldest-first walk, take one page of every walk still open,
    walk newest first in full, and export the selection both ways."""

    def __init__(self, queries: AuditQueries) -> None:
        self.queries = queries
        self.walks: list[tuple[list[str], AuditQuery | None]] = []
        self.newest: list[list[str]] = []
        self.exports_oldest: list[list[str]] = []
        self.exports_newest: list[list[str]] = []
        self.steps = 0

    async def step(self) -> None:
        self.steps += 1
        self.walks.append(([], AuditQuery(order="oldest", limit=3)))
        self.walks = [await self._page(ids, query) for ids, query in self.walks]
        self.newest.append(await _all_pages(self.queries, AuditQuery(order="newest", limit=3)))
        self.exports_oldest.append(await _export(self.queries, "oldest"))
        self.exports_newest.append(await _export(self.queries, "newest"))

    async def _page(
        self, ids: list[str], query: AuditQuery | None
    ) -> tuple[list[str], AuditQuery | None]:
        """One more page of a walk; ``None`` once a page came without a cursor (the end)."""
        if query is None:
            return ids, None
        page = await self.queries.search(SUPPORT, query)
        assert page.entries or page.next_cursor is None, "an empty page with a cursor"
        cursor = page.next_cursor
        return ids + [e.id for e in page.entries], (
            query.model_copy(update={"cursor": cursor}) if cursor else None
        )

    async def finish(self) -> list[tuple[list[str], bool]]:
        """Every walk, followed to its end; with whether it was still open when ingest ended."""
        finished = []
        for ids, query in self.walks:
            still_open = query is not None
            while query is not None:
                ids, query = await self._page(ids, query)
            finished.append((ids, still_open))
        return finished


async def _all_pages(queries: AuditQueries, query: AuditQuery) -> list[str]:
    ids: list[str] = []
    while True:
        page = await queries.search(SUPPORT, query)
        ids += [e.id for e in page.entries]
        if page.next_cursor is None:
            return ids
        query = query.model_copy(update={"cursor": page.next_cursor})


async def _export(queries: AuditQueries, order: str) -> list[str]:
    query = AuditQuery.model_validate({"order": order})
    content = await queries.export(SUPPORT, query, "csv")
    rows = csv.DictReader(io.StringIO(content.decode("utf-8-sig")))
    return [f"{r['topic']}:{r['partition']}:{r['offset']}" for r in rows]


async def _tenant_entries(repository: AuditRepository) -> list[Any]:
    found = []
    for topic, partition in await repository.partitions():
        found += await repository.partition_entries(topic, partition)
    return [e for e in found if e.tenant == TENANT]


Hook = Callable[[], Awaitable[None]] | None
WRITES = (
    "reserve_sequences",
    "add_timeline_lines",
    "insert",
    "add_lookups",
    "release_sequences",
    "record_tail",
)


def _before_every_write(repository: AuditRepository, hook: Hook) -> None:
    """Run ``hook`` before each of the repository's writes on the ingest path (``None``: stop)."""
    for name in WRITES:
        original = getattr(type(repository), name)
        if hook is None:
            repository.__dict__.pop(name, None)
            continue

        def wrapped(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            async def run() -> Any:
                assert hook is not None
                await hook()
                return await _original(repository, *args, **kwargs)

            return run()

        setattr(repository, name, wrapped)


# Batches whose first run crashes after inserting its entries: before writing any lookup (False)
# or halfway through them (True).
CRASHES = {2: False, 7: True}


class CrashError(Exception):
    pass


@contextmanager
def _crashing_lookups(repository: AuditRepository, *, halfway: bool) -> Iterator[None]:
    writing = repository.add_lookups

    async def crash(entries: Sequence[Any]) -> None:
        if halfway:
            await writing(entries[: len(entries) // 2])
        raise CrashError

    setattr(repository, "add_lookups", crash)  # noqa: B010
    try:
        yield
    finally:
        setattr(repository, "add_lookups", writing)  # noqa: B010


def _batches() -> list[tuple[str, int, list[RawRecord]]]:
    """Three partitions written in turns; the third lags with events from an hour earlier (a late
    partition, as after a consumer's restart), and one batch is delivered again after it was
    stored (a commit lost)."""
    batches = []
    for round_ in range(3):
        for partition, lag in ((0, 0), (1, 0), (2, 60)):
            records = [_record(round_ * 4 + n, partition, round_ * 10 + n - lag) for n in range(4)]
            batches.append(("tracker-raised", partition, records))
    batches.insert(4, batches[1])  # a replay of partition 1's first batch
    return batches


def _record(offset: int, partition: int, minute: int) -> RawRecord:
    learner = f"L{offset % 2}"
    event = new_event(
        TrackerRaised(
            tracker_id=f"T{partition}-{offset}",
            learner_id=learner,
            tracker_type="change_of_address",
            changes=ADDRESS,
            raised_by=learner,
            raised_by_roles=["learner"],
        ),
        tenant=TENANT,
        subject=learner,
        actor=learner,
    ).model_copy(update={"time": T0 + timedelta(minutes=minute)})
    key, headers, value = to_wire(event)
    return RawRecord(offset, key, headers, value, int(event.time.timestamp() * 1000))
