"""Support answers "who changed this, when and why" from its own tools, on the real stack: the
staff directory, staff names and the tracker's note and reasons in the timeline and exports,
trackers readable outside support's groups, its own reads kept out of the way, and event-type
filters that take the documented topic names and refuse unknown ones."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from ilrflow.audit.adapters.repository import AuditRepository
from ilrflow.audit.domain import entry_from_record
from ilrflow.audit.domain.staff import StaffName
from ilrflow.audit.domain.timeline import timeline_line
from ilrflow.audit.service.queries import AuditQueries
from ilrflow.contracts.events import TrackerProcessed, new_event, to_wire
from ilrflow.platform.auth import Principal
from tests.conftest import Stack, eventually, new_tenant
from tests.e2e.helpers import GROUP, Tenant, known_learner
from tests.e2e.test_tracker_steps import OTHER_GROUP, process, raise_tracker, tracker_tenant

pytestmark = pytest.mark.e2e

NOTE = "Moved in with my partner"
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
NEW_ADDRESS = {"address": {"lines": ["7 Mill Lane"], "postcode": "LS6 1AA"}}


@dataclass
class Story:
    """A learner's change of address, raised by the learner with a note and processed by
    admin-1 (Ada Admin), and a second one cancelled by admin-1 with a reason."""

    tenant: Tenant
    learner_id: str
    processed_id: str
    cancelled_id: str


@pytest.fixture(scope="module")
def story(stack: Stack) -> Story:
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    with tenant.as_("tracker", learner_id, "learner") as learner:
        body = {
            "type": "change_of_address",
            "learner_id": learner_id,
            "changes": NEW_ADDRESS,
            "note": NOTE,
        }
        raised = learner.post("/v1/trackers", json=body)
        assert raised.status_code == 201, raised.text
        second = raise_tracker(learner, "change_of_address", learner_id, NEW_ADDRESS)
    with tenant.admin("tracker") as admin:
        process(admin, raised.json()["id"])
        cancelled = admin.post(
            f"/v1/trackers/{second['id']}/cancel", json={"reason": "raised twice"}
        )
        assert cancelled.status_code == 200, cancelled.text
    return Story(tenant, learner_id, raised.json()["id"], second["id"])


def support(story: Story, service: str, groups: list[str] | None = None) -> httpx.Client:
    return story.tenant.as_(service, "support-1", "support", groups=groups or [GROUP])


def timeline(http: httpx.Client, learner_id: str, **params: Any) -> list[str]:
    response = http.get(f"/v1/audit/learners/{learner_id}/timeline", params=params)
    assert response.status_code == 200, response.text
    return [line["text"] for line in response.json()["items"]]


def line_with(lines: list[str], text: str) -> str:
    found = [line for line in lines if text in line]
    assert found, f"no line with {text!r} in {lines}"
    return found[0]


def test_support_reads_the_staff_directory(stack: Stack, story: Story) -> None:
    with support(story, "learner") as http:
        directory = http.get("/v1/staff")
        one = http.get("/v1/staff/admin-1")
        missing = http.get("/v1/staff/nobody")
    assert directory.status_code == 200, directory.text
    assert {"id": "admin-1", "name": "Ada Admin"}.items() <= next(
        s for s in directory.json()["items"] if s["id"] == "admin-1"
    ).items()
    assert (one.status_code, one.json()["name"]) == (200, "Ada Admin")
    assert missing.status_code == 404
    with story.tenant.as_("learner", "tutor-1", "tutor", groups=[GROUP]) as tutor:
        assert tutor.get("/v1/staff").status_code == 403
    with stack.client("learner", new_tenant(), "support-1", "support") as stranger:
        assert stranger.get("/v1/staff/admin-1").status_code == 404
        assert all(s["id"] != "admin-1" for s in stranger.get("/v1/staff").json()["items"])


def test_the_timeline_says_who_by_name_and_why(story: Story) -> None:
    with support(story, "audit") as http:

        def told() -> list[str]:
            lines = timeline(http, story.learner_id)
            # Names are filled in when read: wait for the staff events to be stored too.
            return lines if any("cancelled by Ada Admin" in line for line in lines) else []

        lines = eventually(told)
    raised = line_with(lines, f"tracker {story.processed_id} (change_of_address) raised by")
    assert raised.endswith(
        f"raised by learner {story.learner_id}, allocated to admin Ada Admin "
        f'(admin-1) — note: "{NOTE}"'
    )
    processed = line_with(lines, f"tracker {story.processed_id} (change_of_address) processed by")
    assert processed.endswith("processed by admin Ada Admin (admin-1) (changes: address)")
    cancelled = line_with(lines, f"tracker {story.cancelled_id} (change_of_address) cancelled by")
    assert cancelled.endswith('cancelled by Ada Admin (admin-1): "raised twice"')


def test_exports_name_the_staff_too(story: Story) -> None:
    params = {"tracker_id": story.processed_id, "type": "ilrflow.tracker.processed.v1"}
    with support(story, "audit") as http:

        def rows() -> list[dict[str, str]]:
            response = http.get("/v1/audit/export.csv", params=params)
            assert response.status_code == 200, response.text
            return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))

        exported = eventually(rows)
    assert [(r["actor"], r["actor name"]) for r in exported] == [("admin-1", "Ada Admin")]
    assert exported[0]["summary"].endswith(
        "processed by admin Ada Admin (admin-1) (changes: address)"
    )


def test_support_reads_trackers_outside_its_groups_but_acts_on_none(story: Story) -> None:
    with support(story, "tracker", groups=[OTHER_GROUP]) as http:
        one = http.get(f"/v1/trackers/{story.processed_id}")
        listed = http.get("/v1/trackers", params={"learner_id": story.learner_id})
        processing = http.post(f"/v1/trackers/{story.cancelled_id}/process")
    assert one.status_code == 200, one.text
    assert one.json()["note"] == NOTE
    assert listed.status_code == 200
    assert {t["id"] for t in listed.json()["items"]} >= {story.processed_id, story.cancelled_id}
    assert processing.status_code == 403, processing.text
    with story.tenant.as_("tracker", "tutor-9", "tutor", groups=[OTHER_GROUP]) as outsider:
        assert outsider.get(f"/v1/trackers/{story.processed_id}").status_code == 404


def test_supports_own_reads_stay_out_of_the_way_unless_asked_for(story: Story) -> None:
    learner = {"learner_id": story.learner_id}
    with support(story, "audit") as http:
        for _ in range(3):
            timeline(http, story.learner_id)
            assert http.get("/v1/audit/events", params=learner).status_code == 200

        def reads(params: dict[str, Any]) -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = http.get("/v1/audit/events", params=params).json()[
                "items"
            ]
            return [e for e in items if e["event_type"] == "ilrflow.audit.accessed.v1"]

        eventually(lambda: len(reads({**learner, "include_access": "true", "limit": 500})) >= 6)
        assert reads({**learner, "limit": 500}) == []
        oldest = {**learner, "order": "oldest", "limit": 500}
        by_type = [e["id"] for e in reads({**oldest, "type": "ilrflow.audit.accessed.v1"})]
        assert len(by_type) >= 6
        # Each search adds a read of its own: the later one sees the earlier's and more.
        by_topic = [e["id"] for e in reads({**oldest, "type": "audit-access"})]
        assert by_topic[: len(by_type)] == by_type
        exported = http.get("/v1/audit/export.csv", params=learner).text
        assert "ilrflow.audit.accessed.v1" not in exported

        default = timeline(http, story.learner_id)
        with_reads = timeline(http, story.learner_id, include_access="true")
    assert not any("audit timeline" in line for line in default)
    read_lines = [line for line in with_reads if "read learner" in line]
    assert read_lines, with_reads
    assert "support support-1 read learner" in read_lines[0]
    assert set(default) <= set(with_reads)


def test_type_takes_the_documented_topic_names_and_refuses_unknown_ones(story: Story) -> None:
    with support(story, "audit") as http:

        def ids(kind: str) -> list[str]:
            params = {"learner_id": story.learner_id, "type": kind, "limit": 500}
            response = http.get("/v1/audit/events", params=params)
            assert response.status_code == 200, response.text
            return [e["id"] for e in response.json()["items"]]

        by_topic = eventually(lambda: ids("tracker-processed"))
        assert by_topic == ids("ilrflow.tracker.processed.v1")
        learner_topic = ids("learner-updated")
        assert learner_topic
        assert learner_topic == ids("ilrflow.learner.updated.v1")
        # The topic carries staff changes too: without a learner, both types, in one order.
        by_admin = {"type": "learner-updated", "actor": "admin-1", "order": "oldest", "limit": 500}
        both = http.get("/v1/audit/events", params=by_admin).json()["items"]
        assert {e["event_type"] for e in both} == {
            "ilrflow.learner.updated.v1",
            "ilrflow.staff.updated.v1",
        }
        # One order for both types: the log's (its ingest sequence, not event time: entries of
        # two partitions are stored as they arrive), the same read from either end.
        newest = http.get("/v1/audit/events", params={**by_admin, "order": "newest"}).json()
        assert [e["id"] for e in both] == [e["id"] for e in reversed(newest["items"])]

        for path in ("/v1/audit/events", "/v1/audit/export.csv"):
            refused = http.get(path, params={"type": "tracker.processed"})
            assert refused.status_code == 422, refused.text
            assert "unknown event type 'tracker.processed'" in refused.text
            assert "tracker-processed" in refused.text
            # A misspelt filter is refused too, not ignored (which would widen the answer).
            misspelt = http.get(path, params={"learner": story.learner_id})
            assert misspelt.status_code == 422, misspelt.text
            assert "learner" in misspelt.json()["detail"]
        timeline_typo = f"/v1/audit/learners/{story.learner_id}/timeline"
        assert http.get(timeline_typo, params={"include_reads": "true"}).status_code == 422
        assert http.get(timeline_typo, params={"include_access": "yes"}).status_code == 422


def test_stored_lines_are_named_when_read_and_old_ones_still_read(stack: Stack) -> None:
    asyncio.run(_named_when_read(stack.settings.mongo_url))


async def _named_when_read(mongo_url: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    name = f"test_audit_names_{secrets.token_hex(3)}"
    repository = AuditRepository(client[name])
    try:
        processed = TrackerProcessed(
            tracker_id="T1",
            learner_id="L1",
            tracker_type="change_of_name",
            changes={"name": {}},
            processed_by="A1",
            processor_roles=["admin"],
            raised_by="L1",
            learner_led=True,
        )
        event = new_event(processed, tenant="acme", subject="L1", actor="A1")
        event = event.model_copy(update={"time": T0})
        key, headers, value = to_wire(event)
        entry = entry_from_record("tracker-processed", 0, 7, key, headers, value, None)
        await repository.add_timeline_lines({("acme", "L1"): [timeline_line(entry)]})
        old_line = {
            "time": T0 - timedelta(hours=1),
            "entry_id": "tracker-raised:0:1",
            "text": "2026-01-05 08:00 — old",
        }
        await repository.timelines.update_one({"_id": "acme\x1fL1"}, {"$push": {"lines": old_line}})
        later = T0 + timedelta(minutes=1)
        await repository.record_staff_names({("acme", "A1"): StaffName("Ada Newname", later)})
        await repository.record_staff_names({("acme", "A1"): StaffName("Ada Admin", T0)})
        queries = AuditQueries(repository, reads_recorded=lambda: None)
        support = Principal(sub="support-1", tenant="acme", roles=["support"])

        lines = [line.text for line in (await queries.timeline(support, "L1")).lines]

        assert lines == [
            "2026-01-05 08:00 — old",
            "2026-01-05 09:00 — learner L1's tracker T1 (change_of_name) processed by admin "
            "Ada Newname (A1) (changes: name)",
        ]
        assert await repository.staff_names("other", ["A1"]) == {}
    finally:
        await client.drop_database(name)
        await client.close()


def test_changes_of_the_tenants_settings_are_in_the_audit_log(story: Story) -> None:
    """Who may do what, and how the ILR is written, are themselves audited: each setting before
    and after, and who changed it."""
    with story.tenant.admin("tracker") as admin:
        changed = admin.put("/v1/tracker-settings", json={"material_impact_threshold": 15})
    assert changed.status_code == 200, changed.text
    with story.tenant.admin("ilr") as admin:
        changed = admin.put("/v1/ilr/settings", json={"ukprn": 10012345})
    assert changed.status_code == 200, changed.text

    def changes_of(path: str) -> list[dict[str, Any]]:
        with support(story, "audit") as http:
            response = http.get("/v1/audit/events", params={"type": "tenant-settings"})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        # The tenant's set-up changed its settings before: this test's changes are the ones here.
        paths = {id(e): [c["path"] for c in e["payload"]["changes"]] for e in items}
        return [e for e in items if path in paths[id(e)]]

    [tracker_entry] = eventually(lambda: changes_of("material_impact_threshold"))
    [ilr_entry] = eventually(lambda: changes_of("ukprn"))
    assert (tracker_entry["actor"], ilr_entry["actor"]) == ("admin-1", "admin-1")
    assert tracker_entry["event_type"] == "ilrflow.tracker.settings_changed.v1"
    assert ilr_entry["event_type"] == "ilrflow.ilr.settings_changed.v1"
    assert tracker_entry["payload"]["changes"] == [
        {"path": "material_impact_threshold", "before": 10, "after": 15}
    ]
    assert ilr_entry["payload"]["changes"] == [{"path": "ukprn", "before": None, "after": 10012345}]
