"""Audit queries on the running stack: who may ask, dead letters with their origin, exports of
the same selection, cursor pages, and every read recorded in the audit log itself; and, on a
scratch database fed by the real ingest, every filter, order and cursor against a plain sort, with
the database's explain of every read the query path issued."""

from __future__ import annotations

import asyncio
import csv
import io
import random
import secrets
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from pymongo import AsyncMongoClient

from bench.audit_lookups import (
    expected_ids,
    explain_reads,
    is_id_lookup,
    record_reads,
    served_ids,
)
from ilrflow.audit.adapters.repository import AuditRepository
from ilrflow.audit.domain.query import AuditQuery
from ilrflow.audit.service.ingest import AuditIngest, RawRecord
from ilrflow.audit.service.queries import AuditQueries
from ilrflow.contracts.events import (
    TrackerProcessed,
    TrackerRaised,
    new_event,
    partition_key,
    to_wire,
)
from ilrflow.platform.auth import Principal
from tests.conftest import Stack, eventually
from tests.e2e.helpers import enrolled_learner, produce, run, tenant_with_staff

pytestmark = pytest.mark.e2e


def test_a_dead_lettered_record_is_in_the_audit_with_where_it_came_from(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    learner_id = enrolled_learner(tenant)
    correlation = f"poison-{secrets.token_hex(4)}"
    headers = {
        "ce_id": correlation.encode(),
        "ce_type": b"ilrflow.tracker.raised.v1",
        "ce_source": b"test",
        "ce_time": b"2026-01-01T00:00:00Z",
        "ce_subject": learner_id.encode(),
        "ce_tenant": tenant.name.encode(),
        "ce_correlationid": correlation.encode(),
    }
    key = partition_key(tenant.name, learner_id).encode()
    run(produce(stack.settings.kafka_bootstrap, [("tracker-raised", key, headers, b"{not json")]))

    support = tenant.as_("audit", "support-1", "support")

    def both() -> list[dict]:  # type: ignore[type-arg]
        params = {"correlation_id": correlation, "order": "oldest"}
        items = support.get("/v1/audit/events", params=params).json()["items"]
        return (
            items if {e["topic"] for e in items} >= {"tracker-raised", "tracker-raised.dlt"} else []
        )

    items = eventually(both)
    original = next(e for e in items if e["topic"] == "tracker-raised")
    dead = next(e for e in items if e["topic"] == "tracker-raised.dlt")
    assert original["problems"]
    assert dead["dead_letter"]["original_topic"] == "tracker-raised"
    assert (dead["dead_letter"]["original_partition"], dead["dead_letter"]["original_offset"]) == (
        original["partition"],
        original["offset"],
    )
    assert "payload does not match" in dead["dead_letter"]["reason"]
    assert dead["dead_letter"]["consumer_group"].endswith(".notify.tracker-raised")
    one = support.get(f"/v1/audit/events/{dead['id']}")
    assert one.status_code == 200
    assert one.json()["dead_letter"] == dead["dead_letter"]


def test_only_support_admin_and_operator_may_read_and_each_read_is_audited(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    learner_id = enrolled_learner(tenant)
    for role in ("tutor", "learner"):
        with tenant.as_("audit", "someone", role) as http:
            assert http.get("/v1/audit/events").status_code == 403
            assert http.get(f"/v1/audit/learners/{learner_id}/timeline").status_code == 403
            assert http.get("/v1/audit/export.csv").status_code == 403
    with tenant.as_("audit", "someone", "admin") as http:
        assert http.get("/v1/audit/verify").status_code == 403

    support = tenant.as_("audit", "support-7", "support")
    assert support.get("/v1/audit/events", params={"learner_id": learner_id}).status_code == 200
    assert support.get(f"/v1/audit/learners/{learner_id}/timeline").status_code == 200
    assert (
        support.get("/v1/audit/export.xlsx", params={"learner_id": learner_id}).status_code == 200
    )
    other_tenant = stack.client("audit", "another-tenant", "support-7", "support")
    assert other_tenant.get(f"/v1/audit/learners/{learner_id}/timeline").json()["items"] == []

    operator = tenant.as_("audit", "operator-1", "operator")

    def reads() -> list[dict]:  # type: ignore[type-arg]
        params = {"type": "ilrflow.audit.accessed.v1", "learner_id": learner_id, "order": "oldest"}
        items = operator.get("/v1/audit/events", params=params).json()["items"]
        return items if len(items) >= 3 else []

    actions = [e["payload"]["action"] for e in eventually(reads)]
    assert actions[:3] == ["search", "timeline", "export_xlsx"]
    assert all(e["actor"] == "support-7" for e in reads()[:3])


def test_pages_and_exports_cover_the_same_selection(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    learner_id = enrolled_learner(tenant)
    support = tenant.as_("audit", "support-1", "support")
    selection = {"learner_id": learner_id, "type": "ilrflow.learner.updated.v1", "order": "oldest"}

    def all_pages() -> list[str]:
        ids, cursor = [], None
        while True:
            page = support.get(
                "/v1/audit/events",
                params={**selection, "limit": 1, **({"cursor": cursor} if cursor else {})},
            ).json()
            ids += [e["id"] for e in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return ids if len(ids) >= 2 else []  # created, then enrolled

    ids = eventually(all_pages)
    exported = support.get("/v1/audit/export.csv", params=selection)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [f"{r['topic']}:{r['partition']}:{r['offset']}" for r in rows] == ids
    assert "created" in rows[0]["summary"]
    workbook = support.get("/v1/audit/export.xlsx", params=selection)
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    assert sheet is not None
    assert sheet.max_row == len(ids) + 1


def test_every_filter_order_and_cursor_is_served_by_id_lookups(stack: Stack) -> None:
    asyncio.run(_every_filter_by_id_lookups(stack.settings.mongo_url))


SCRATCH_TENANT = "acme"
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


async def _every_filter_by_id_lookups(mongo_url: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    name = f"test_audit_lookups_{secrets.token_hex(3)}"
    repository = AuditRepository(client[name])
    try:
        entries = await _ingest_scratch_log(repository)
        # A crash between the lookups and the tail replays the batch's refs: served once anyway.
        await repository.add_lookups(entries[:40])
        queries = AuditQueries(repository, reads_recorded=lambda: None)
        reads = record_reads(repository)
        for params in _queries(entries):
            query = AuditQuery.model_validate(params)
            expected = expected_ids(entries, SCRATCH_TENANT, query)
            assert await served_ids(queries, SCRATCH_TENANT, query) == expected, params
            assert expected or "from" in params, params  # every filter selects something
        support = Principal(sub="support-1", tenant=SCRATCH_TENANT, roles=["support"])
        page = await queries.search(support, AuditQuery(learner_id="L1", limit=3))
        assert [e.id for e in page.entries] == expected_ids(
            entries, SCRATCH_TENANT, AuditQuery(learner_id="L1")
        )[:3]
        assert page.next_cursor is not None
        other = Principal(sub="support-1", tenant="other", roles=["support"])
        theirs = (await queries.search(other, AuditQuery(limit=500))).entries
        assert [e.id for e in theirs] == expected_ids(entries, "other", AuditQuery())

        explains = await explain_reads(repository, reads)
        assert set(explains) == {
            "audit_sequences",
            "audit_lookup_heads",
            "audit_lookup_pages",
            "audit_entries",
        }
        for collection, explain in explains.items():
            assert is_id_lookup(explain), (collection, explain)
    finally:
        await client.drop_database(name)
        await client.close()


async def _ingest_scratch_log(repository: AuditRepository) -> list[Any]:
    """Two tenants, three learners, trackers with their own correlation ids, two actors, events
    over three days arriving out of time order, in several batches per partition."""
    rng = random.Random(5)
    per_partition: dict[tuple[str, int], list[RawRecord]] = defaultdict(list)
    for n in range(160):
        learner, tracker = f"L{n % 3}", f"T{n % 11}"
        payload: TrackerRaised | TrackerProcessed = (
            TrackerRaised(
                tracker_id=tracker,
                learner_id=learner,
                tracker_type="change_of_name",
                changes={"name": {"given_names": "Ada", "family_name": "Byron"}},
                raised_by=learner,
                raised_by_roles=["learner"],
            )
            if n % 2
            else TrackerProcessed(
                tracker_id=tracker,
                learner_id=learner,
                tracker_type="change_of_name",
                changes={},
                processed_by="admin-1",
                processor_roles=["admin"],
                raised_by=learner,
                learner_led=True,
            )
        )
        tenant = SCRATCH_TENANT if n % 8 else "other"
        event = new_event(
            payload, tenant=tenant, subject=learner, actor=f"admin-{n % 2}", correlation_id=tracker
        ).model_copy(update={"time": T0 + timedelta(minutes=rng.randrange(3 * 24 * 60))})
        key, headers, value = to_wire(event)
        records = per_partition[(event.topic, n % 3)]
        millis = int(event.time.timestamp() * 1000)
        records.append(RawRecord(len(records), key, headers, value, millis))
    ingest = AuditIngest(repository)
    for (topic, partition), records in per_partition.items():
        for start in range(0, len(records), 25):
            await ingest.store_batch(topic, partition, records[start : start + 25])
    return [
        entry
        for topic, partition in per_partition
        for entry in await repository.partition_entries(topic, partition)
    ]


def _queries(entries: list[Any]) -> list[dict[str, Any]]:
    one = next(e for e in entries if e.tenant == SCRATCH_TENANT)
    middle = (T0 + timedelta(days=1, hours=5)).isoformat()
    end = (T0 + timedelta(days=2)).isoformat()
    filters: list[dict[str, Any]] = [
        {},
        {"learner_id": one.learner_id},
        {"tracker_id": one.tracker_id},
        {"type": one.event_type},
        {"actor": one.actor},
        {"correlation_id": one.correlation_id},
        {"from": middle},
        {"from": middle, "to": end},
        {"to": middle, "learner_id": "L2", "type": one.event_type},
        {"actor": "admin-1", "type": one.event_type, "from": middle},
    ]
    return [
        {**f, "order": order, "limit": limit}
        for f in filters
        for order in ("newest", "oldest")
        for limit in (4, 500)
    ]
