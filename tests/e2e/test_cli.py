"""The ``ilrflow`` operator command against the real stack: topics, dead letters (one re-driven to
success after a header repair), audit verification, tenant settings, and its errors."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from pymongo import MongoClient
from typer.testing import CliRunner

from ilrflow.contracts.events import Topics, TrackerProcessed, new_event, partition_key
from ilrflow.ops import app
from ilrflow.ops.common import EXIT_NOT_FOUND, EXIT_UNAVAILABLE, EXIT_USAGE
from ilrflow.platform.kafka import all_topics, ensure_topics
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
    groups = sorted(d["group"] for d in dead)  # only they handle the copy
    assert redriven["groups"] == groups

    with tenant.admin("ilr") as ilr:

        def applied() -> dict[str, Any]:
            current = ilr.get(f"/v1/learners/{learner_id}/ilr").json()
            return current if current["learner"].get("Email") == "redriven@example.org" else {}

        assert eventually(applied)["version"] == 2

    # The republished record keeps the event id, drops dlt_*, says who re-drove it and for whom.
    records = run(read_topic(stack.settings.kafka_bootstrap, "tracker-processed", key.encode()))
    republished = [r for r in records if r.offset == redriven["offset"]]
    [record] = [r for r in republished if r.partition == redriven["partition"]]
    record_headers = dict(record.headers)
    assert record_headers["ce_id"] == event.id.encode()
    assert record_headers["ce_tenant"] == tenant.name.encode()
    assert record_headers["redriven_by"] == b"ops-alice"
    assert record_headers["redrive_groups"] == ",".join(groups).encode()
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
    # Staff first: an allocation rule must name an admin of the staff directory.
    tenant = tenant_with_staff(stack)
    name = tenant.name
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

    # The tenant works: a learner, and a tracker of an enabled type is raised.
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


# --- issue #18: the CLI tells the truth ------------------------------------------------------


def json_error(stack: Stack, *args: str, code: int) -> dict[str, Any]:
    """Run a failing ``--json`` command: stdout holds one JSON error object, stderr nothing."""
    result = runner.invoke(app, [*args, "--json"], env=stack.env)
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    error = json.loads(result.stdout)["error"]
    assert set(error) >= {"exit_code", "kind", "message"}, error
    assert error["exit_code"] == code
    assert result.stderr == ""
    return dict(error)


def test_tenants_show_of_an_unknown_tenant_exits_4(stack: Stack, tenant: Tenant) -> None:
    tracker = ["--tracker-url", stack.urls["tracker"]]
    typo = json_error(stack, "tenants", "show", tenant.name + "x", *tracker, code=EXIT_NOT_FOUND)
    assert typo["kind"] == "not_found"
    assert f"no tenant {tenant.name + 'x'!r}" in typo["message"]
    text = ilrflow(stack, "tenants", "show", "no-such-tenant", *tracker, code=EXIT_NOT_FOUND)
    assert "ilrflow tenants list" in text.output
    assert ilrflow(stack, "tenants", "show", tenant.name, *tracker, "--json")["tenant"]


def test_tenant_ids_follow_one_pattern_everywhere(stack: Stack) -> None:
    urls = ["--tracker-url", stack.urls["tracker"], "--ilr-url", stack.urls["ilr"]]
    for bad in ("Bad Tenant!", "acme:learner", "", "_underscore-first"):
        refused = json_error(stack, "tenants", "create", bad, *urls, code=EXIT_USAGE)
        assert "tenant id" in refused["message"], refused
        json_error(stack, "tenants", "show", bad, *urls, code=EXIT_USAGE)
        json_error(
            stack, "token", "--tenant", bad, "--sub", "a", "--role", "admin", code=EXIT_USAGE
        )
        json_error(stack, "lanes", "promote", bad, "acme", code=EXIT_USAGE)
    # A token whose tenant claim breaks the pattern is refused by every service.
    now = int(time.time())
    claims = {
        "sub": "admin-1", "tenant": "acme:learner", "roles": ["admin"], "groups": [],
        "iat": now, "nbf": now, "exp": now + 600, "iss": stack.settings.jwt_issuer,
    }  # fmt: skip
    forged = jwt.encode(claims, stack.settings.jwt_secret, algorithm="HS256")
    for service, path in (("tracker", "/v1/trackers"), ("learner", "/v1/learners")):
        response = httpx.get(
            stack.urls[service] + path, headers={"authorization": f"Bearer {forged}"}
        )
        assert response.status_code == 401, response.text
        assert "tenant" in response.text


def test_allocation_rules_name_admins_of_the_staff_directory(stack: Stack, tenant: Tenant) -> None:
    urls = ["--tracker-url", stack.urls["tracker"], "--ilr-url", stack.urls["ilr"]]
    ghost = json_error(
        stack, "tenants", "create", tenant.name, "--allocate", f"{GROUP}=ghost-9", *urls,
        code=EXIT_NOT_FOUND,
    )  # fmt: skip
    assert "ghost-9" in ghost["message"]
    assert "staff directory" in ghost["message"]
    tutor = ilrflow(
        stack, "tenants", "create", tenant.name, "--allocate", f"{GROUP}=tutor-1", *urls,
        code=EXIT_USAGE,
    )  # fmt: skip
    assert "tutor-1 is not an admin" in tutor.output
    shown = ilrflow(stack, "tenants", "show", tenant.name, *urls[:2], "--json")
    assert shown["settings"]["allocation_rules"] == []  # nothing was stored
    created = ilrflow(
        stack, "tenants", "create", tenant.name, "--allocate", f"{GROUP}=admin-1", *urls, "--json"
    )
    assert created["settings"]["allocation_rules"][0]["admin_id"] == "admin-1"


def test_json_errors_have_one_shape_on_stdout(stack: Stack) -> None:
    unknown = json_error(stack, "dlt", "list", "no-such-topic", code=EXIT_USAGE)
    assert unknown["kind"] == "usage"
    assert "unknown topic 'no-such-topic'" in unknown["message"]
    missing = json_error(stack, "dlt", "show", "tracker-processed", code=EXIT_USAGE)
    assert "partition" in missing["message"]  # a usage error of the parser itself
    down = json_error(
        stack, "tenants", "show", "t", "--tracker-url", "http://127.0.0.1:9", code=EXIT_UNAVAILABLE
    )
    assert down["kind"] == "unavailable"
    gone = json_error(stack, "topics", "describe", "no-such-topic", code=EXIT_NOT_FOUND)
    assert gone["kind"] == "not_found"


def test_tenants_list(stack: Stack, tenant: Tenant) -> None:
    with tenant.admin("tracker") as admin:
        assert admin.put("/v1/tracker-types/change_of_name", json={"enabled": True}).is_success
    listed = ilrflow(stack, "tenants", "list", "--json")
    mine = next(t for t in listed if t["tenant"] == tenant.name)
    assert mine["staff"] == len(STAFF)
    assert mine["tracker_settings"] is True
    assert mine["lane"] == "pooled"
    text = ilrflow(stack, "tenants", "list")
    assert tenant.name in text.stdout


def test_token_has_json(stack: Stack) -> None:
    minted = ilrflow(stack, "token", "--tenant", "demo", "--sub", "admin-1", "--role", "admin",
                     "--json")  # fmt: skip
    claims = jwt.decode(minted["token"], stack.settings.jwt_secret, algorithms=["HS256"],
                        issuer=stack.settings.jwt_issuer)  # fmt: skip
    assert (claims["tenant"], claims["sub"], claims["roles"]) == ("demo", "admin-1", ["admin"])
    assert minted["expires_at"]


def test_dlt_list_without_a_topic_is_an_overview_of_every_dead_letter_topic(
    stack: Stack,
) -> None:
    poison = ("tracker-raised", b"cli:overview", {"content-type": b"text/plain"}, b"not an event")
    run(produce(stack.settings.kafka_bootstrap, [poison]))

    def overview() -> list[dict[str, Any]]:
        found = ilrflow(stack, "dlt", "list", "--json")
        raised = next(t for t in found if t["topic"] == "tracker-raised")
        return found if raised["dead_letters"] >= 1 else []

    found = eventually(overview)
    assert {t["topic"] for t in found} >= set(Topics.ALL)
    for item in found:
        assert item["dead_letter_topic"] == item["topic"] + ".dlt"
        assert item["dead_letters"] == sum(item["partitions"].values())
    text = ilrflow(stack, "dlt", "list")
    assert "tracker-raised.dlt" in text.stdout


def test_topics_describe_shows_lane_topics_and_a_lag_summary(stack: Stack) -> None:
    s = stack.settings
    run(ensure_topics(s.kafka_bootstrap, 2, all_topics(s.topic_prefix, ["cli-lane"])))
    described = ilrflow(stack, "topics", "describe", "--json")
    names = {item["topic"] for item in described}
    assert "lane-cli-lane.tracker-raised" in names
    assert "lane-cli-lane.tracker-raised.dlt" in names
    assert set(Topics.ALL) <= names
    for item in described:
        assert item["total_lag"] == sum(g["total_lag"] for g in item["groups"])
        assert item["lagging_groups"] == sum(1 for g in item["groups"] if g["total_lag"] > 0)
    text = ilrflow(stack, "topics", "describe")
    assert "lane-cli-lane.tracker-raised" in text.stdout
    assert "lag summary" in text.stdout


README = Path(__file__).resolve().parents[2] / "README.md"
RUN_SCRIPT = README.parent / "deploy" / "local" / "run.py"


def fresh_shell(stack: Stack) -> dict[str, str]:
    """A new login shell's environment: no ~/.local/bin on PATH (where `make` installs uv), no
    virtualenv; only the stack's ILRFLOW_* settings so the commands reach this test's stack."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ["HOME"],
        **{k: v for k, v in stack.env.items() if k.startswith("ILRFLOW_")},
    }


def in_fresh_shell(stack: Stack, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euc", script], cwd=README.parent, env=fresh_shell(stack), capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


def test_the_readme_cli_commands_work_in_a_fresh_shell(stack: Stack) -> None:
    # The "Everyday commands" rows that run the CLI.
    commands = re.findall(r"^\| `(\./ilrflow [^`]*)`", README.read_text(), re.MULTILINE)
    assert len(commands) >= 2, commands
    for command in commands:
        done = in_fresh_shell(stack, command)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert done.stdout.strip(), command


def test_the_make_run_banner_commands_work_in_a_fresh_shell(stack: Stack) -> None:
    spec = importlib.util.spec_from_file_location("make_run", RUN_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    make_run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_run)
    tokens = {"ADMIN": stack.token("demo", "admin-1", "admin")}
    lines = [line.strip() for line in make_run.banner(stack.urls, tokens).splitlines()]
    exports = [line for line in lines if line.startswith("export ")]
    commands = [line for line in lines if line.startswith(("./ilrflow", "curl"))]
    assert exports
    assert any(c.startswith("./ilrflow") for c in commands)
    assert any(c.startswith("curl") for c in commands)
    for command in commands:
        done = in_fresh_shell(stack, "\n".join([*exports, command]))
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert done.stdout.strip(), command
