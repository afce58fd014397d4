"""The ``ilrflow`` operator command against the real stack: topics, dead letters (one re-driven to
success after a header repair), audit verification, tenant settings, and its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from typer.testing import CliRunner

from ilrflow.contracts.events import TrackerProcessed, new_event, partition_key
from ilrflow.ops import app
from ilrflow.ops.common import EXIT_NOT_FOUND, EXIT_UNAVAILABLE, EXIT_USAGE
from tests.conftest import Stack, eventually, new_tenant, settled
from tests.e2e.helpers import (
    GROUP,
    LEARNER,
    STAFF,
    Tenant,
    enrolled_learner,
    produce,
    read_topic,
    run,
    tenant_with_staff,
    wire_record,
)

pytestmark = pytest.mark.e2e

runner = CliRunner()


def ilrflow(stack: Stack, *args: str, code: int = 0) -> Any:
    """Run the command with the stack's settings; check its exit code; parse --json output."""
    result = runner.invoke(app, list(args), env=stack.env)
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return json.loads(result.stdout) if "--json" in args and code == 0 else result


@pytest.fixture(scope="module")
def tenant(stack: Stack) -> Tenant:
    return tenant_with_staff(stack)


def test_topics_ensure_and_describe(stack: Stack, tenant: Tenant) -> None:
    enrolled_learner(tenant)  # traffic on learner-updated, which the ilr service consumes
    ensured = ilrflow(stack, "topics", "ensure", "--json")
    assert ensured["created"] == []  # the stack made them already
    assert stack.settings.topic_prefix + "tracker-processed.dlt" in ensured["topics"]

    ilr_group = f"{stack.settings.db_prefix}.ilr.learner-updated"

    def described_with_ilr_group() -> dict[str, Any]:
        [described] = ilrflow(stack, "topics", "describe", "learner-updated", "--json")
        groups = {g["group"]: g for g in described["groups"]}
        return described if ilr_group in groups and described["partitions"] else {}

    described = eventually(described_with_ilr_group)
    assert described["physical"] == stack.settings.topic_prefix + "learner-updated"
    assert [p["partition"] for p in described["partitions"]] == list(range(6))
    assert sum(p["end_offset"] for p in described["partitions"]) > 0
    assert described["configs"]["cleanup.policy"] == "delete"
    groups = {g["group"]: g for g in described["groups"]}
    assert set(groups[ilr_group]["lag"]) == {str(p) for p in range(6)}
    assert all(lag >= 0 for lag in groups[ilr_group]["lag"].values())

    [state] = ilrflow(stack, "topics", "describe", "ilr-state", "--json")
    assert state["configs"]["cleanup.policy"] == "compact"


def test_a_dead_letter_is_listed_shown_and_redriven_to_success(
    stack: Stack, tenant: Tenant
) -> None:
    learner_id = enrolled_learner(tenant)
    key = partition_key(tenant.name, learner_id)
    event = new_event(
        TrackerProcessed(
            tracker_id="T-redrive",
            learner_id=learner_id,
            tracker_type="change_of_contact_details",
            changes={"email": "redriven@example.org"},
            processed_by="admin-1",
            processor_roles=["admin"],
            raised_by=learner_id,
            learner_led=True,
        ),
        tenant=tenant.name,
        subject=learner_id,
        actor="admin-1",
    )
    topic, wire_key, headers, value = wire_record(event)
    del headers["ce_tenant"]  # a producer bug: a valid event without its tenant
    run(produce(stack.settings.kafka_bootstrap, [(topic, wire_key, headers, value)]))

    def dead_letters() -> list[dict[str, Any]]:
        found = ilrflow(stack, "dlt", "list", "tracker-processed", "--key", key, "--json")
        return found if len(found) == 3 else []  # learner, ilr and notify each gave up on it

    dead = eventually(dead_letters)
    assert {d["group"].rsplit(".", 2)[1] for d in dead} == {"learner", "ilr", "notify"}
    for letter in dead:
        assert letter["event_id"] == event.id
        assert letter["event_type"] == "ilrflow.tracker.processed.v1"
        assert "missing headers ce_tenant" in letter["reason"]

    first = dead[0]
    shown = ilrflow(
        stack, "dlt", "show", "tracker-processed", str(first["partition"]), str(first["offset"]),
        "--json",
    )  # fmt: skip
    assert shown["headers"]["ce_id"] == event.id
    assert shown["headers"]["dlt_original_topic"] == "tracker-processed"
    assert json.loads(shown["value"])["changes"] == {"email": "redriven@example.org"}

    planned = ilrflow(
        stack, "dlt", "redrive", "tracker-processed", "--key", key, "--dry-run", "--json"
    )
    assert len(planned["redriven"]) == 1

    done = ilrflow(
        stack, "dlt", "redrive", "tracker-processed", "--key", key,
        "--set-header", f"ce_tenant={tenant.name}", "--rate", "20/s", "--by", "ops-alice",
        "--json",
    )  # fmt: skip
    [redriven] = done["redriven"]
    assert len(done["duplicates"]) == 2  # one original record, three groups' dead letters
    assert redriven["event_id"] == event.id
    assert redriven["redriven_by"] == "ops-alice"

    with tenant.admin("ilr") as ilr:

        def applied() -> dict[str, Any]:
            current = ilr.get(f"/v1/learners/{learner_id}/ilr").json()
            return current if current["learner"].get("Email") == "redriven@example.org" else {}

        assert eventually(applied)["version"] == 2

    # The republished record keeps the event id, drops dlt_* and says who re-drove it.
    records = run(read_topic(stack.settings.kafka_bootstrap, "tracker-processed", key.encode()))
    republished = [r for r in records if r.offset == redriven["offset"]]
    [record] = [r for r in republished if r.partition == redriven["partition"]]
    record_headers = dict(record.headers)
    assert record_headers["ce_id"] == event.id.encode()
    assert record_headers["ce_tenant"] == tenant.name.encode()
    assert record_headers["redriven_by"] == b"ops-alice"
    assert b"redriven_at" in {k.encode() for k in record_headers}
    assert not [k for k in record_headers if k.startswith("dlt_")]

    # The ledger remembers it: a second redrive does nothing unless forced.
    again = ilrflow(stack, "dlt", "redrive", "tracker-processed", "--key", key, "--json")
    assert again["redriven"] == []
    assert len(again["already_redriven"]) == 3
    forced = ilrflow(
        stack, "dlt", "redrive", "tracker-processed", "--key", key, "--force", "--dry-run", "--json"
    )
    assert len(forced["redriven"]) == 1


def test_audit_verify_directly_and_through_the_api(stack: Stack) -> None:
    direct = ilrflow(stack, "audit", "verify", "--json")
    assert direct["ok"] is True
    assert direct["entries"] > 0
    via_api = ilrflow(stack, "audit", "verify", "--url", stack.urls["audit"], "--json")
    assert via_api["ok"] is True
    text = ilrflow(stack, "audit", "verify")
    assert "OK" in text.stdout


def test_tenants_show(stack: Stack, tenant: Tenant) -> None:
    with tenant.admin("tracker") as admin:
        enabled = {"enabled": True, "process_roles": ["admin"]}
        assert admin.put("/v1/tracker-types/change_of_address", json=enabled).status_code == 200
    shown = ilrflow(
        stack, "tenants", "show", tenant.name, "--tracker-url", stack.urls["tracker"], "--json"
    )
    assert shown["tenant"] == tenant.name
    assert shown["enabled_types"] == ["change_of_address"]
    assert shown["policy"]["change_of_address"]["enabled"] is True
    assert shown["policy"]["change_of_address"]["process"] == ["admin"]
    assert shown["policy"]["change_of_contact_details"]["enabled"] is False
    assert shown["settings"]


def test_tenants_create_from_a_file_and_options(stack: Stack, tmp_path: Path) -> None:
    name = new_tenant()
    policy = tmp_path / "tenant.yaml"
    policy.write_text(
        "settings:\n"
        "  two_person_control: true\n"
        "  material_impact_threshold: 15\n"
        "types:\n"
        "  change_of_address: {enabled: true, process_roles: [admin, ilr_qa]}\n"
        "ilr:\n"
        "  ukprn: 10012345\n"
    )
    created = ilrflow(
        stack, "tenants", "create", name, "--file", str(policy),
        "--enable", "change_of_name", "--roles", "change_of_name:raise=learner,tutor",
        "--allocate", f"{GROUP}=admin-1",
        "--tracker-url", stack.urls["tracker"], "--ilr-url", stack.urls["ilr"], "--json",
    )  # fmt: skip
    assert created["enabled_types"] == ["change_of_name", "change_of_address"]
    assert created["ilr"]["ukprn"] == 10012345

    shown = ilrflow(
        stack, "tenants", "show", name, "--tracker-url", stack.urls["tracker"],
        "--ilr-url", stack.urls["ilr"], "--json",
    )  # fmt: skip
    assert shown == created
    assert shown["settings"]["two_person_control"] is True
    assert shown["settings"]["material_impact_threshold"] == 15
    assert shown["settings"]["allocation_rules"] == [
        {"learner_group": GROUP, "admin_id": "admin-1", "tracker_types": []}
    ]
    assert shown["policy"]["change_of_address"]["process"] == ["admin", "ilr_qa"]
    assert shown["policy"]["change_of_name"]["raise"] == ["learner", "tutor"]

    # Roles alone leave the switch as it was.
    again = ilrflow(
        stack, "tenants", "create", name, "--roles", "change_of_address:edit=admin",
        "--tracker-url", stack.urls["tracker"], "--ilr-url", stack.urls["ilr"], "--json",
    )  # fmt: skip
    assert again["policy"]["change_of_address"]["enabled"] is True
    assert again["policy"]["change_of_address"]["edit"] == ["admin"]

    # The tenant works: staff, a learner, and a tracker of an enabled type is raised.
    tenant = Tenant(stack, name)
    with tenant.admin("learner") as http:
        for staff in STAFF:
            assert http.post("/v1/staff", json=staff).status_code == 201
    learner_id = enrolled_learner(tenant)
    request = {
        "type": "change_of_address",
        "learner_id": learner_id,
        "changes": {"address": {"lines": ["22 Mill Lane", "Bradford"], "postcode": "BD1 1AA"}},
    }
    with tenant.admin("tracker") as tracker:
        raised = eventually(lambda: tracker.post("/v1/trackers", json=request))
        assert raised.status_code == 201, raised.text
        assert raised.json()["allocated_to"] == "admin-1"
        request["type"] = "change_of_contact_details"  # not enabled
        assert tracker.post("/v1/trackers", json=request).status_code in (403, 422)


def test_tenants_create_errors(stack: Stack) -> None:
    urls = ["--tracker-url", stack.urls["tracker"], "--ilr-url", stack.urls["ilr"]]
    bad_roles = ilrflow(
        stack, "tenants", "create", new_tenant(), "--roles", "change_of_name:raise=wizard", *urls,
        code=EXIT_USAGE,
    )  # fmt: skip
    assert "unknown roles" in bad_roles.output
    bad_verb = ilrflow(
        stack, "tenants", "create", "t", "--roles", "change_of_name=admin", *urls, code=EXIT_USAGE
    )
    assert "TYPE:VERB=role" in bad_verb.output
    unknown_type = ilrflow(
        stack, "tenants", "create", new_tenant(), "--enable", "no_such_type", *urls,
        code=EXIT_NOT_FOUND,
    )  # fmt: skip
    assert "no_such_type" in unknown_type.output
    bad_ukprn = ilrflow(
        stack, "tenants", "create", new_tenant(), "--ukprn", "12", *urls, code=EXIT_USAGE
    )
    assert "ukprn" in bad_ukprn.output


def test_errors_are_clear_with_exit_codes(stack: Stack) -> None:
    unknown = ilrflow(stack, "dlt", "list", "no-such-topic", code=EXIT_USAGE)
    assert "unknown topic 'no-such-topic'" in unknown.output
    missing = ilrflow(stack, "topics", "describe", "no-such-topic", code=EXIT_NOT_FOUND)
    assert "no such topic" in missing.output
    gone = ilrflow(stack, "dlt", "show", "tracker-processed", "0", "999999", code=EXIT_NOT_FOUND)
    assert "no dead letter" in gone.output
    bad_rate = ilrflow(stack, "dlt", "redrive", "tracker-processed", "--rate", "fast", code=2)
    assert "--rate" in bad_rate.output
    down = ilrflow(
        stack, "tenants", "show", "t", "--tracker-url", "http://127.0.0.1:9", code=EXIT_UNAVAILABLE
    )
    assert "cannot reach the tracker service" in down.output


PROJECTIONS = [
    ("tracker", "learners", "learner_projection"),
    ("tracker", "staff", "staff_projection"),
    ("tracker", "ilr", "ilr_projection"),
    ("notify", "learners", "learner_projection"),
    ("notify", "staff", "staff_projection"),
]


def tenant_documents(stack: Stack, service: str, collection: str, tenant: str) -> list[Any]:
    with MongoClient(stack.settings.mongo_url) as client:
        db = client[stack.settings.database_name(service)]
        return sorted(
            (d for d in db[collection].find() if str(d["_id"]).startswith(f"{tenant}:")),
            key=lambda d: str(d["_id"]),
        )


@pytest.mark.parametrize(("service", "name", "collection"), PROJECTIONS)
def test_a_rebuilt_projection_holds_what_the_live_one_held(
    stack: Stack, tenant: Tenant, service: str, name: str, collection: str
) -> None:
    learner_id = enrolled_learner(tenant)

    def enrolled() -> bool:
        if "staff" in collection:
            return True
        documents = tenant_documents(stack, service, collection, tenant.name)
        mine = [d for d in documents if learner_id in str(d["_id"])]
        assert mine
        assert mine[0].get("programmes", [None])  # tracker's learners: enrolled
        return True

    # The tenant's documents once the learner's enrolment is in and nothing moves.
    eventually(enrolled)
    live = settled(lambda: tenant_documents(stack, service, collection, tenant.name))
    report = ilrflow(
        stack, "projections", "rebuild", service, name, "--keep-previous",
        "--settle-seconds", "0.5", "--json",
    )  # fmt: skip
    assert report["collection"] == collection
    assert report["applied"] >= len(live)
    assert report["previous"].startswith(f"{collection}__previous_")
    assert tenant_documents(stack, service, collection, tenant.name) == live
    assert tenant_documents(stack, service, report["previous"], tenant.name) == live
    with MongoClient(stack.settings.mongo_url) as client:
        db = client[stack.settings.database_name(service)]
        assert f"{collection}__rebuild" not in db.list_collection_names()
        db.drop_collection(report["previous"])


def test_events_arriving_during_a_rebuild_are_not_lost(stack: Stack, tenant: Tenant) -> None:
    command = [
        sys.executable, "-c", "from ilrflow.ops import main; main()",
        "projections", "rebuild", "tracker", "learners", "--settle-seconds", "2", "--json",
    ]  # fmt: skip
    rebuild = subprocess.Popen(
        command, env={**os.environ, **stack.env}, stdout=subprocess.PIPE, text=True
    )
    created: list[str] = []
    with tenant.admin("learner") as http:
        while rebuild.poll() is None or len(created) < 3:
            response = http.post("/v1/learners", json={**LEARNER, "given_names": "During"})
            assert response.status_code == 201, response.text
            created.append(response.json()["id"])
            time.sleep(0.3)  # pacing, not a poll: a few learners a second during the rebuild
    stdout, _ = rebuild.communicate(timeout=120)
    assert rebuild.returncode == 0, stdout
    report = json.loads(stdout)
    assert report["paused_seconds"] >= 2

    def all_projected() -> bool:
        ids = {
            d["id"] for d in tenant_documents(stack, "tracker", "learner_projection", tenant.name)
        }
        return set(created) <= ids

    eventually(all_projected)


def test_projection_errors(stack: Stack) -> None:
    unknown = ilrflow(stack, "projections", "rebuild", "nowhere", "x", code=EXIT_USAGE)
    assert "unknown service 'nowhere'" in unknown.output
    missing = ilrflow(stack, "projections", "rebuild", "tracker", "nope", code=EXIT_NOT_FOUND)
    assert "it keeps: learners, staff, ilr" in missing.output
