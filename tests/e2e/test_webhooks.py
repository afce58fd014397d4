"""Webhooks against a real local receiver that verifies Standard Webhooks signatures: one signed
delivery per event and subscription; a failing receiver gets retries, then the delivery is dead,
and a replay delivers it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from deploy.local.devstack import kill_service, restart_service, wait_ready
from ilrflow.contracts.events import partition_key
from tests.conftest import Stack, eventually, settled
from tests.e2e.helpers import enrolled_learner, tenant_with_staff
from tests.e2e.test_notify_story import (
    enable_types_allocated_to_admin,
    raise_and_process,
    replay,
    topic_of,
    wait_until_consumed,
)

pytestmark = pytest.mark.e2e

MAX_ATTEMPTS = 3  # ILRFLOW_WEBHOOK_MAX_ATTEMPTS of the test stack (tests/conftest.py)


class Receiver:
    """An HTTP endpoint that checks each request's signature with the subscription's secret,
    written here from the specification, not with the service's code."""

    def __init__(self) -> None:
        self.secret = ""
        self.failing = False
        self.received: list[dict[str, Any]] = []  # verified: webhook-id, type, data
        self.refused = 0  # requests answered 500 while failing
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if not receiver.verified(self.headers, body):
                    receiver.bad_signatures += 1
                    self.send_response(400)
                elif receiver.failing:
                    receiver.refused += 1
                    self.send_response(500)
                else:
                    payload = json.loads(body)
                    receiver.received.append({"id": self.headers["webhook-id"], **payload})
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def verified(self, headers: Any, body: bytes) -> bool:
        message_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
        if abs(time.time() - int(timestamp)) > 300:
            return False
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        signed = f"{message_id}.{timestamp}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        offered = [s.split(",", 1)[1] for s in headers["webhook-signature"].split(" ")]
        return any(hmac.compare_digest(expected, s) for s in offered)


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    pair = (Receiver(), Receiver())
    for receiver in pair:
        threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
    yield pair
    for receiver in pair:
        receiver.server.shutdown()


def test_signed_deliveries_exactly_once_retries_dead_and_replay(
    stack: Stack, receivers: tuple[Receiver, Receiver]
) -> None:
    good, failing = receivers
    failing.failing = True
    tenant = tenant_with_staff(stack)
    learner_id = enrolled_learner(tenant)
    enable_types_allocated_to_admin(tenant, "change_of_address")
    admin = tenant.admin("notify")
    good_hook = subscribe(admin, good, ["tracker-*", "ilr-updated"])
    failing_hook = subscribe(admin, failing, ["tracker-processed"])

    learner = tenant.as_("tracker", learner_id, "learner")
    tracker_id = raise_and_process(tenant, learner, "change_of_address", learner_id)

    eventually(lambda: received_about(good, tracker_id))
    log = quiet_log(admin, good_hook, good)
    assert sorted(r["id"] for r in good.received) == sorted(d["id"] for d in log)
    assert all(d["status"] == "delivered" and len(d["attempts"]) == 1 for d in log)
    assert len({d["event_id"] for d in log}) == len(log)
    assert good.bad_signatures == failing.bad_signatures == 0

    def dead() -> list[dict[str, Any]]:
        return admin.get(f"/v1/webhooks/{failing_hook}/deliveries?status=dead").json()["items"]

    [dead_one] = eventually(dead)
    assert dead_one["event_type"] == "tracker-processed"
    assert len(dead_one["attempts"]) == MAX_ATTEMPTS == failing.refused
    assert all(a["status_code"] == 500 for a in dead_one["attempts"])

    failing.failing = False
    replayed = admin.post(f"/v1/webhooks/deliveries/{dead_one['id']}/replay")
    assert replayed.status_code == 202, replayed.text
    [delivered] = eventually(lambda: failing.received)
    assert delivered["id"] == dead_one["id"]
    assert delivered["data"]["tracker_id"] == tracker_id
    final = eventually(
        lambda: admin.get(f"/v1/webhooks/{failing_hook}/deliveries?status=delivered").json()[
            "items"
        ]
    )
    assert [d["id"] for d in final] == [dead_one["id"]]


def test_a_notify_crash_and_every_event_published_again_send_nothing_twice(
    stack: Stack, receivers: tuple[Receiver, Receiver]
) -> None:
    good, _ = receivers
    tenant = tenant_with_staff(stack)
    learner_id = enrolled_learner(tenant)
    enable_types_allocated_to_admin(tenant, "change_of_address")
    admin = tenant.admin("notify")
    hook = subscribe(admin, good, ["tracker-*", "ilr-updated"])
    learner = tenant.as_("tracker", learner_id, "learner")
    before = raise_and_process(tenant, learner, "change_of_address", learner_id)
    eventually(lambda: received_about(good, before))
    # Every send recorded before the kill: one killed between the receiver's answer and the
    # record is sent again once its claim's lease runs out, with the same webhook-id (at least
    # once, as Standard Webhooks allows; receivers deduplicate by webhook-id). This test is
    # about the deliveries the crash and the republished events must not add.
    quiet_log(admin, hook, good)

    # SIGKILL, as a crash: events published meanwhile wait for the new process.
    notify = stack.process("notify")
    kill_service(notify)
    during = raise_and_process(tenant, learner, "change_of_address", learner_id)
    restarted = restart_service(notify, stack.env)
    stack.processes[stack.processes.index(notify)] = restarted
    wait_ready([restarted])

    eventually(lambda: received_about(good, during))
    # Every event of the learner published again, as a producer retry or a re-read would.
    key = partition_key(tenant.name, learner_id).encode()
    replayed = replay(stack, key, ["tracker-raised", "tracker-processed", "ilr-updated"])
    wait_until_consumed(stack, replayed, {topic_of(r): ["notify"] for r in replayed})
    log = quiet_log(admin, hook, good)
    ids = [r["id"] for r in good.received]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(d["id"] for d in log)
    assert len({d["event_id"] for d in log}) == len(log)


def received_about(receiver: Receiver, tracker_id: str) -> bool:
    types = {r["type"] for r in receiver.received if r["data"].get("tracker_id") == tracker_id}
    return {"tracker-raised", "tracker-processed", "ilr-updated"} <= types


def subscribe(admin: Any, receiver: Receiver, event_types: list[str]) -> str:
    response = admin.post("/v1/webhooks", json={"url": receiver.url, "event_types": event_types})
    assert response.status_code == 201, response.text
    receiver.secret = response.json()["secret"]
    hook_id: str = response.json()["id"]
    return hook_id


def quiet_log(admin: httpx.Client, hook: str, receiver: Receiver) -> list[dict[str, Any]]:
    """The webhook's delivery log once nothing is pending and neither the log nor what the
    receiver got has changed for a while: a duplicate, were one sent, has arrived by then."""

    def log() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = admin.get(f"/v1/webhooks/{hook}/deliveries").json()["items"]
        return found

    def snapshot() -> tuple[list[tuple[str, str]], list[str]]:
        statuses = sorted((d["id"], d["status"]) for d in log())
        return statuses, sorted(r["id"] for r in receiver.received)

    def settled_without_pending() -> bool:
        statuses, _ = settled(snapshot, quiet=2)
        return all(status != "pending" for _, status in statuses)

    eventually(settled_without_pending)
    return log()
