"""Dedicated lanes on the real stack: a tenant is promoted to a lane of its own while its trackers
are flowing, then demoted again; nothing is lost, nothing applied twice, and between the two only
the lane's own consumers (a second set of the five services, ``ILRFLOW_LANES=<lane>``) see it."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from devstack import SERVICES, start_services, stop_services, wait_ready
from pymongo import MongoClient
from typer.testing import CliRunner

from ilrflow.contracts.events import Topics
from ilrflow.ops import app
from ilrflow.ops.common import EXIT_FAILED, EXIT_USAGE
from ilrflow.platform.lanes import POOLED, RoutingTable, lane_topic
from ilrflow.platform.routing import TABLE_ID
from tests.conftest import PORT_BASE, Stack, eventually
from tests.e2e.helpers import (
    GROUP,
    Tenant,
    downstream_example,
    enrolled_learner,
    every_item,
    run,
    tenant_with_staff,
)

pytestmark = pytest.mark.e2e

LANE = "acme"
# The stack's ports + 100 (ILRFLOW_TEST_PORT_BASE=32001 gives 32101-32105).
LANE_PORTS = {name: PORT_BASE + 100 + i for i, name in enumerate(SERVICES)}
TRACKER_TYPE = "change_of_contact_details"
HTTP_TIMEOUT = 60  # generous: the traffic must not fail just because the machine is busy
runner = CliRunner()


def ilrflow(stack: Stack, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, list(args), env=stack.env)
    if args[:2] in (("lanes", "promote"), ("lanes", "demote")):
        print(result.stderr)  # the progress lines (pytest -s shows them)
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def lane(stack: Stack) -> Iterator[dict[str, str]]:
    """The lane's own learner, tracker, ilr, notify and audit processes; same databases and
    topic prefix as the stack."""
    env = {**stack.env, "ILRFLOW_LANES": LANE, "ILRFLOW_ROUTES_REFRESH_SECONDS": "0.5"}
    log_dir = stack.process("learner").log_path.parent / f"lane-{LANE}"
    processes = start_services(LANE_PORTS, env, log_dir)
    try:
        wait_ready(processes)
        yield {p.name: p.url for p in processes}
    finally:
        stop_services(processes)


@dataclass
class Traffic:
    """Raises and processes trackers for a tenant's learners until stopped. Like an API gateway,
    it sends each request to the lane the routing table gives for the tenant, so that the
    tenant's documents have their writers in one process (see docs/operations.md, FerretDB)."""

    stack: Stack
    tenant: Tenant
    learners: list[str]
    lane_urls: dict[str, str]
    trackers: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._routes = MongoClient(self.stack.settings.mongo_url)[
            self.stack.settings.platform_database
        ]["routes"]
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self._routes.database.client.close()

    def lane_now(self) -> str:
        return RoutingTable.from_document(self._routes.find_one({"_id": TABLE_ID})).lane_of(
            self.tenant.name
        )

    def _url(self) -> tuple[str, str]:
        lane = self.lane_now()
        return lane, (self.lane_urls if lane == LANE else self.stack.urls)["tracker"]

    def _run(self) -> None:
        for n in itertools.count():
            if self._stop.is_set():
                return
            learner_id = self.learners[n % len(self.learners)]
            try:
                self._one(n, learner_id)
            except Exception as error:  # reported by the test, not lost in the thread
                self.errors.append(repr(error))
                return

    def _one(self, n: int, learner_id: str) -> None:
        token = self.stack.token(self.tenant.name, learner_id, "learner")
        raised_on, url = self._url()
        request = {
            "type": TRACKER_TYPE,
            "learner_id": learner_id,
            "changes": {"email": f"flow-{n}@example.org"},
        }
        with httpx.Client(base_url=url, timeout=HTTP_TIMEOUT) as http:
            # 404 until the tracker service's projection knows the new learner.
            raised = eventually(
                lambda: _status(
                    http.post(
                        "/v1/trackers", json=request, headers={"authorization": f"Bearer {token}"}
                    ),
                    201,
                ),
                timeout=30,
            )
        tracker_id = raised.json()["id"]
        processed_on, url = self._url()
        admin = self.stack.token(self.tenant.name, "admin-1", "admin", groups=[GROUP])
        with httpx.Client(base_url=url, timeout=HTTP_TIMEOUT) as http:
            processed = http.post(
                f"/v1/trackers/{tracker_id}/process", headers={"authorization": f"Bearer {admin}"}
            )
        assert processed.status_code == 200, processed.text
        self.trackers.append(
            {"id": tracker_id, "learner": learner_id, "lanes": {raised_on, processed_on}}
        )


# About 1.5 minutes on a quiet machine; a move waits for the slowest consumer (the audit), so a
# loaded one needs longer than the suite's default timeout.
@pytest.mark.timeout(600)
def test_a_tenant_moves_to_its_own_lane_and_back_while_trackers_flow(
    stack: Stack, lane: dict[str, str]
) -> None:
    started = time.monotonic()
    tenant = tenant_with_staff(stack)
    with tenant.admin("tracker") as admin:
        assert admin.put(f"/v1/tracker-types/{TRACKER_TYPE}", json={"enabled": True}).is_success
        rules = {"allocation_rules": [{"learner_group": GROUP, "admin_id": "admin-1"}]}
        assert admin.put("/v1/tracker-settings", json=rules).is_success
    learners = [enrolled_learner(tenant) for _ in range(2)]

    traffic = Traffic(stack, tenant, learners, lane)
    traffic.start()
    try:
        _until(lambda: len(traffic.trackers) >= 3, traffic)
        promoted = ilrflow(stack, "lanes", "promote", tenant.name, LANE, "--json")
        promotion = _json(promoted)
        assert promotion["changed"] is True
        assert (promotion["from"], promotion["to"]) == (POOLED, LANE)
        assert promotion["version"] == promotion["paused_version"] + 1
        assert {r.split(":")[0] for r in promotion["relays"]} >= {"learner", "tracker", "ilr"}
        listed = _json(ilrflow(stack, "lanes", "list", "--json"))
        assert listed["routes"] == {tenant.name: LANE}
        assert listed["paused"] == []

        on_lane_from = len(traffic.trackers)
        _until(lambda: len(traffic.trackers) >= on_lane_from + 4, traffic)
        # A tracker whose whole story is on the lane: its ILR outcome must be recorded before
        # the demotion pauses the tenant (events written during a pause go out on the lane the
        # tenant moves to, which is right, but would make this tracker's story half pooled).
        lane_only = next(t for t in traffic.trackers if t["lanes"] == {LANE})
        with tenant.admin("tracker") as tracker_api:
            eventually(lambda: _outcome(tracker_api, lane_only["id"]), timeout=90)
        pooled_before_demotion = run(_end_offsets(stack, POOLED))
        demotion = _json(ilrflow(stack, "lanes", "demote", tenant.name, "--json"))
        assert (demotion["from"], demotion["to"], demotion["changed"]) == (LANE, POOLED, True)
        back_from = len(traffic.trackers)
        _until(lambda: len(traffic.trackers) >= back_from + 2, traffic)
    finally:
        traffic.stop()
    assert not traffic.errors, traffic.errors
    trackers = traffic.trackers
    assert {LANE} in [t["lanes"] for t in trackers]  # some went through the lane end to end

    # Nothing lost: every tracker reaches its ILR outcome; the ILR has one version per tracker.
    with tenant.admin("tracker") as tracker_api, tenant.admin("ilr") as ilr_api:
        for tracker in trackers:
            outcome = eventually(lambda t=tracker: _outcome(tracker_api, t["id"]), timeout=90)
            assert outcome["status"] == "applied", outcome
        for learner_id in learners:
            mine = [t["id"] for t in trackers if t["learner"] == learner_id]
            history = every_item(ilr_api, f"/v1/learners/{learner_id}/ilr/history")
            # Nothing applied twice: one version per tracker, in order, each tracker once.
            assert [h["version"] for h in history] == list(range(1, len(mine) + 2))
            assert [h["tracker_id"] for h in history[1:]] == mine
        for tracker in trackers:
            actions = [h["action"] for h in tracker_api.get(f"/v1/trackers/{tracker['id']}")
                       .json()["history"]]  # fmt: skip
            assert actions.count("ilr_outcome_recorded") == 1

    # While promoted, the pooled topics carried nothing of the tenant; the lane's did.
    drained = {t: {int(p): o for p, o in ps.items()} for t, ps in promotion["drained"].items()}
    between = run(_records(stack, drained, pooled_before_demotion))
    assert not [r for r in between if _tenant(r) == tenant.name]
    lane_records = run(_records(stack, {lane_topic(LANE, t): None for t in Topics.ALL}, None))
    assert {r.topic.removeprefix(stack.settings.topic_prefix) for r in lane_records} >= {
        lane_topic(LANE, t)
        for t in (Topics.TRACKER_RAISED, Topics.TRACKER_PROCESSED, Topics.LEARNER_UPDATED,
                  Topics.ILR_UPDATED, Topics.ILR_STATE)
    }  # fmt: skip
    assert {_tenant(r) for r in lane_records} == {tenant.name}
    # After the demotion the lane got nothing more: it ends where the demotion drained it.
    lane_ends = run(_end_offsets(stack, LANE))
    assert lane_ends == {
        (t, int(p)): o for t, ps in demotion["drained"].items() for p, o in ps.items()
    }

    # The lane's own consumer groups handled its events.
    [described] = _json(
        ilrflow(stack, "topics", "describe", lane_topic(LANE, Topics.TRACKER_PROCESSED), "--json")
    )
    groups = {g["group"]: g for g in described["groups"]}
    for service in ("learner", "ilr", "notify"):
        group = f"{stack.settings.db_prefix}.{service}.{lane_topic(LANE, Topics.TRACKER_PROCESSED)}"
        assert groups[group]["total_lag"] == 0

    # The audit log has the story from both lanes.
    after_demotion = trackers[-1]  # the flow continued on the pooled lane
    assert after_demotion["lanes"] == {POOLED}
    support = stack.token(tenant.name, "support-1", "support")
    # A search is a scan on FerretDB: give it time on a busy machine.
    with httpx.Client(
        base_url=stack.urls["audit"], headers={"authorization": f"Bearer {support}"}, timeout=90
    ) as audit:

        def topics_of(tracker_id: str) -> set[str]:
            page = audit.get("/v1/audit/events", params={"tracker_id": tracker_id}).json()
            found = {e["topic"] for e in page["items"]}
            return found if {e.split(".")[-1] for e in found} >= {"ilr-updated"} else set()

        assert eventually(lambda: topics_of(lane_only["id"])) >= {
            f"lane-{LANE}.tracker-raised",
            f"lane-{LANE}.tracker-processed",
            f"lane-{LANE}.ilr-updated",
        }
        assert all(
            not t.startswith("lane-") for t in eventually(lambda: topics_of(after_demotion["id"]))
        )
    # A downstream mirror that reads every lane's ilr-state has each learner's latest ILR (the
    # lane still holds older records of the tenant: the version decides).
    mirror = downstream_example().IlrMirror(
        stack.settings.kafka_bootstrap, tenant.name, stack.settings.topic_prefix
    )
    run(mirror.bootstrap())
    with tenant.admin("ilr") as ilr_api:
        for learner_id in learners:
            current = ilr_api.get(f"/v1/learners/{learner_id}/ilr").json()
            held = mirror.records[(tenant.name, learner_id)]
            assert (held.version, held.learner) == (current["version"], current["learner"])
    print(f"\nlanes: {len(trackers)} trackers, promotion {promotion['seconds']}s, "
          f"demotion {demotion['seconds']}s, test {time.monotonic() - started:.0f}s")  # fmt: skip


def test_lane_commands_say_clearly_what_is_wrong(stack: Stack, lane: dict[str, str]) -> None:
    bad = ilrflow(stack, "lanes", "promote", "some-tenant", "Not.A.Lane", code=EXIT_USAGE)
    assert "bad lane name" in bad.output
    pooled = ilrflow(stack, "lanes", "promote", "some-tenant", POOLED, code=EXIT_USAGE)
    assert "demote" in pooled.output
    nobody = ilrflow(stack, "lanes", "promote", "some-tenant", "nobody-serves", code=EXIT_FAILED)
    assert "no live process serves lane 'nobody-serves'" in nobody.output
    unchanged = _json(ilrflow(stack, "lanes", "demote", "some-tenant", "--json"))
    assert unchanged["changed"] is False
    listed = ilrflow(stack, "lanes", "list")
    assert "live relay(s)" in listed.output


# --- helpers -----------------------------------------------------------------------------------


def _json(result: Any) -> Any:
    return json.loads(result.stdout)


def _until(condition: Any, traffic: Traffic, timeout: float = 60) -> None:
    def met() -> bool:
        if traffic.errors:  # not an AssertionError: ``eventually`` would keep polling
            raise RuntimeError(f"the traffic failed: {traffic.errors}")
        return bool(condition())

    try:
        eventually(met, timeout=timeout, interval=0.1)
    except AssertionError as error:
        raise AssertionError(f"traffic too slow: {error}") from error


def _status(response: httpx.Response, wanted: int) -> httpx.Response | None:
    assert response.status_code in (wanted, 404), response.text
    return response if response.status_code == wanted else None


def _outcome(http: httpx.Client, tracker_id: str) -> dict[str, Any]:
    return http.get(f"/v1/trackers/{tracker_id}").json().get("ilr_outcome") or {}


def _tenant(record: Any) -> str | None:
    value = dict(record.headers).get("ce_tenant")
    return value.decode() if value else None


async def _end_offsets(stack: Stack, lane_name: str) -> dict[tuple[str, int], int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.settings.kafka_bootstrap)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(stack.settings.topic_prefix + lane_topic(lane_name, t), p)
            for t in Topics.ALL
            for p in range(stack.settings.topic_partitions)
        ]
        ends = await consumer.end_offsets(partitions)
        return {
            (tp.topic.removeprefix(stack.settings.topic_prefix), tp.partition): o
            for tp, o in ends.items()
        }
    finally:
        await consumer.stop()


async def _records(
    stack: Stack,
    start: dict[str, dict[int, int] | None],
    end: dict[tuple[str, int], int] | None,
) -> list[Any]:
    """Records of the (logical) topics from ``start`` offsets (None: the beginning) up to
    ``end`` (None: where they end now)."""
    prefix = stack.settings.topic_prefix
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(prefix + t, p)
            for t in start
            for p in range(stack.settings.topic_partitions)
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        stop = {
            tp: (end[(tp.topic.removeprefix(prefix), tp.partition)] if end else ends[tp])
            for tp in partitions
        }
        for tp in partitions:
            first = (start[tp.topic.removeprefix(prefix)] or {}).get(tp.partition, 0)
            consumer.seek(tp, first)
        found: list[Any] = []
        pending = {tp for tp in partitions if await consumer.position(tp) < stop[tp]}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for tp, messages in batches.items():
                found.extend(m for m in messages if m.offset < stop[tp])
            pending = {tp for tp in pending if await consumer.position(tp) < stop[tp]}
        return found
    finally:
        await consumer.stop()
