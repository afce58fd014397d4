"""Audit queries on the running stack: who may ask, dead letters with their origin, exports of
the same selection, cursor pages, and every read recorded in the audit log itself."""

from __future__ import annotations

import csv
import io
import secrets

import pytest
from openpyxl import load_workbook

from ilrflow.shared.events import partition_key
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
    assert other_tenant.get(f"/v1/audit/learners/{learner_id}/timeline").json()["lines"] == []

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
