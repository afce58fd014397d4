"""Notify and audit over the whole story: a learner-led and a staff-led tracker produce exactly the
expected notifications and emails, the audit timeline holds every event in order, and delivering
the same records again changes nothing but the audit's duplicate flags."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from ilrflow.contracts.events import partition_key
from tests.conftest import Stack, eventually
from tests.e2e.helpers import (
    GROUP,
    Tenant,
    enrolled_learner,
    physical,
    produce,
    read_topic,
    run,
    tenant_with_staff,
)

pytestmark = pytest.mark.e2e

ADDRESS_CHANGE = {"address": {"lines": ["22 Mill Lane", "Bradford"], "postcode": "BD1 1AA"}}
CONSUMERS = {"tracker-raised": ["notify"], "tracker-processed": ["notify", "learner", "ilr"]}
BREAK = {
    "last_day_of_learning": "2026-10-30",
    "expected_return_date": "2027-01-04",
    "reason": "medical leave",
}


def test_learner_led_and_staff_led_stories_notify_email_and_audit_exactly(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    learner_id = enrolled_learner(tenant)
    enable_types_allocated_to_admin(tenant, "change_of_address", "break_in_learning")

    address = raise_and_process(
        tenant, tenant.as_("tracker", learner_id, "learner"), "change_of_address", learner_id
    )
    tutor_tracker = tenant.as_("tracker", "tutor-1", "tutor", groups=[GROUP])
    pause = raise_and_process(tenant, tutor_tracker, "break_in_learning", learner_id)

    inboxes = {
        "admin-1": in_app(tenant, "admin-1", "admin"),
        "tutor-1": in_app(tenant, "tutor-1", "tutor"),
        learner_id: in_app(tenant, learner_id, "learner"),
    }
    assert eventually(lambda: stories_told(inboxes, learner_id, address, pause))
    assert stack.mail is not None
    mails = eventually(lambda: emails_about(stack, address, pause, expected=3))
    assert sorted((m["To"], tracker_of(m, address, pause)) for m in mails) == sorted(
        [
            ("tom@example.org", address),
            ("alice@example.org", address),
            ("tom@example.org", pause),
        ]
    )
    for mail in mails:
        words = "change of address" if tracker_of(mail, address, pause) == address else "break"
        assert words in mail["Subject"].lower()
        assert words in text_of(mail).lower()

    support = tenant.as_("audit", "support-1", "support")
    timeline = eventually(lambda: full_timeline(support, learner_id, address, pause))
    texts = [line["text"] for line in timeline]
    assert_in_order(
        texts,
        f"learner {learner_id} created",
        f"learner {learner_id} enrolled",
        f"tracker {address} (change_of_address) raised by learner {learner_id}",
        f"tracker {address} (change_of_address) processed by admin Ada Admin (admin-1)",
        f"(tracker {address})",
        f"tracker {pause} (break_in_learning) raised by tutor Tom Tutor (tutor-1)",
        f"tracker {pause} (break_in_learning) processed by admin Ada Admin (admin-1)",
    )
    # The timeline is in event time, a search in the order the log stored the entries: the same
    # entries, each once (the order of the story is checked above).
    entry_ids = [line["entry_id"] for line in timeline]
    assert sorted(entry_ids) == sorted(story_entry_ids(support, learner_id))
    assert len(set(entry_ids)) == len(entry_ids)

    # The exact same tracker records again, as a replay or a producer retry would deliver them.
    key = partition_key(tenant.name, learner_id).encode()
    replayed = replay(stack, key, ["tracker-raised", "tracker-processed"])
    assert len(replayed) == 4
    wait_until_consumed(stack, replayed, CONSUMERS)

    duplicates = eventually(lambda: flagged_duplicates(support, learner_id, expected=4))
    assert {d["event_id"] for d in duplicates} == {event_id_of(r) for r in replayed}
    assert stories_told(inboxes, learner_id, address, pause)
    assert len(emails_about(stack, address, pause, expected=3)) == 3
    assert full_timeline(support, learner_id, address, pause) == timeline


def test_a_cancelled_tracker_tells_its_raiser_but_not_the_admin_who_cancelled_it(
    stack: Stack,
) -> None:
    tenant = tenant_with_staff(stack)
    learner_id = enrolled_learner(tenant)
    enable_types_allocated_to_admin(tenant, "change_of_address")
    tutor = tenant.as_("tracker", "tutor-1", "tutor", groups=[GROUP])
    request = {"type": "change_of_address", "learner_id": learner_id, "changes": ADDRESS_CHANGE}
    tracker_id = eventually(lambda: tutor.post("/v1/trackers", json=request).json()["id"])
    with tenant.admin("tracker") as admin:
        cancel = admin.post(f"/v1/trackers/{tracker_id}/cancel", json={"reason": "duplicate"})
        assert cancel.status_code == 200, cancel.text

    def told(person: str, role: str) -> list[tuple[str, str]]:
        items = in_app(tenant, person, role).get("/v1/notifications").json()["items"]
        return sorted((n["event_type"].split(".")[2], n["body_text"]) for n in items)

    tutor_told = eventually(lambda: told("tutor-1", "tutor"))
    assert [kind for kind, _ in tutor_told] == ["cancelled"]
    assert "cancelled by Ada Admin" in tutor_told[0][1]
    assert "Reason: duplicate" in tutor_told[0][1]
    assert stack.mail is not None
    mails = eventually(lambda: [m for m in emails_to(stack, "tom@example.org") if tracker_id in m])
    assert len(mails) == 1
    # The admin's own cancellation would have been decided with the tutor's message: not there.
    assert eventually(lambda: [kind for kind, _ in told("admin-1", "admin")] == ["raised"])


def emails_to(stack: Stack, address: str) -> list[str]:
    assert stack.mail is not None
    parsed = [
        email.message_from_bytes(m.content, policy=default_policy) for m in stack.mail.messages
    ]
    return [text_of(m) for m in parsed if m["To"] == address]  # type: ignore[arg-type]


# --- steps ------------------------------------------------------------------------------------


def enable_types_allocated_to_admin(tenant: Tenant, *types: str) -> None:
    with tenant.admin("tracker") as http:
        for tracker_type in types:
            enabled = http.put(f"/v1/tracker-types/{tracker_type}", json={"enabled": True})
            assert enabled.status_code == 200, enabled.text
        rules = {"allocation_rules": [{"learner_group": GROUP, "admin_id": "admin-1"}]}
        assert http.put("/v1/tracker-settings", json=rules).status_code == 200


def raise_and_process(
    tenant: Tenant, raiser: httpx.Client, tracker_type: str, learner_id: str
) -> str:
    changes = ADDRESS_CHANGE if tracker_type == "change_of_address" else BREAK
    request = {"type": tracker_type, "learner_id": learner_id, "changes": changes}

    def raised() -> dict[str, Any]:
        response = raiser.post("/v1/trackers", json=request)
        assert response.status_code in (201, 404), response.text  # 404: projection catching up
        return response.json() if response.status_code == 201 else {}

    tracker_id: str = eventually(raised)["id"]
    with tenant.admin("tracker") as admin:
        processed = admin.post(f"/v1/trackers/{tracker_id}/process")
        assert processed.status_code == 200, processed.text
        eventually(lambda: admin.get(f"/v1/trackers/{tracker_id}").json().get("ilr_outcome"))
    return tracker_id


def in_app(tenant: Tenant, person: str, role: str) -> httpx.Client:
    return tenant.as_("notify", person, role, groups=[GROUP])


def stories_told(
    inboxes: dict[str, httpx.Client], learner_id: str, address: str, pause: str
) -> bool:
    """Exactly: the admin hears of both raised trackers, the tutor of both processed ones, the
    learner of their own request's result, and nobody of anything else."""
    told = {
        person: sorted(
            (n["tracker_id"], n["event_type"].split(".")[2])
            for n in client.get("/v1/notifications").json()["items"]
        )
        for person, client in inboxes.items()
    }
    expected = {
        "admin-1": sorted([(address, "raised"), (pause, "raised")]),
        "tutor-1": sorted([(address, "processed"), (pause, "processed")]),
        learner_id: [(address, "processed")],
    }
    assert told == expected
    return True


def emails_about(stack: Stack, address: str, pause: str, expected: int) -> list[EmailMessage]:
    assert stack.mail is not None
    parsed = [
        email.message_from_bytes(m.content, policy=default_policy) for m in stack.mail.messages
    ]
    about = [m for m in parsed if tracker_of(m, address, pause)]  # type: ignore[arg-type]
    assert len(about) == expected, [m["Subject"] for m in about]
    return about  # type: ignore[return-value]


def tracker_of(message: EmailMessage, *tracker_ids: str) -> str | None:
    return next((t for t in tracker_ids if t in text_of(message)), None)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return "" if part is None else str(part.get_content())  # type: ignore[attr-defined]


def full_timeline(
    support: httpx.Client, learner_id: str, address: str, pause: str
) -> list[dict[str, Any]]:
    response = support.get(f"/v1/audit/learners/{learner_id}/timeline")
    assert response.status_code == 200, response.text
    lines: list[dict[str, Any]] = response.json()["items"]
    text = "\n".join(line["text"] for line in lines)
    done = all(f"ILR version {v}" in text for v in (1, 2, 3)) and pause in text
    return lines if done and f"(tracker {address})" in text else []


def assert_in_order(texts: list[str], *fragments: str) -> None:
    positions = [next(i for i, t in enumerate(texts) if f in t) for f in fragments]
    assert positions == sorted(positions), "\n".join(texts)


def story_entry_ids(support: httpx.Client, learner_id: str) -> list[str]:
    """What the log itself holds for the learner, as the timeline should show it."""
    params = {"learner_id": learner_id, "order": "oldest", "limit": 500}
    items = support.get("/v1/audit/events", params=params).json()["items"]
    return [
        e["id"]
        for e in items
        if not e["duplicate_of"] and e["topic"] not in ("ilr-state", "audit-access")
    ]


def replay(stack: Stack, key: bytes, topics: list[str]) -> list[Any]:
    records = [
        r for topic in topics for r in run(read_topic(stack.settings.kafka_bootstrap, topic, key))
    ]
    wire = [(topic_of(r), r.key, dict(r.headers), r.value) for r in records]
    run(produce(stack.settings.kafka_bootstrap, wire))
    return records


def topic_of(record: Any) -> str:
    return str(record.topic).removeprefix(physical(""))


def event_id_of(record: Any) -> str:
    return bytes(dict(record.headers)["ce_id"]).decode()


def wait_until_consumed(stack: Stack, records: list[Any], consumers: dict[str, list[str]]) -> None:
    """Until each service's group has committed up to the end of the replayed partitions, as
    they stood just after the replay: the copies are behind that end."""
    partitions = {TopicPartition(r.topic, r.partition) for r in records}

    async def lagging() -> list[str]:
        consumer = AIOKafkaConsumer(bootstrap_servers=stack.settings.kafka_bootstrap)
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.settings.kafka_bootstrap)
        await consumer.start()
        await admin.start()
        try:
            ends = await consumer.end_offsets(list(partitions))
            behind = []
            for tp in partitions:
                for service in consumers[topic_of(tp)]:
                    group = f"{stack.settings.db_prefix}.{service}.{topic_of(tp)}"
                    committed = await admin.list_consumer_group_offsets(group, partitions=[tp])
                    meta = committed.get(tp)
                    if meta is None or meta.offset < ends[tp]:
                        behind.append(f"{group}@{tp.partition}")
            return behind
        finally:
            await consumer.stop()
            await admin.close()

    eventually(lambda: not run(lagging()), timeout=60)


def flagged_duplicates(
    support: httpx.Client, learner_id: str, expected: int
) -> list[dict[str, Any]]:
    params = {"learner_id": learner_id, "limit": 500}
    items = support.get("/v1/audit/events", params=params).json()["items"]
    flagged = [e for e in items if e["duplicate_of"] and e["topic"].startswith("tracker-")]
    return flagged if len(flagged) == expected else []
