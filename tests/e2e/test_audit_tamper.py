"""Tamper evidence against the real database: an attacker with write access to the audit
collection flips a byte, deletes an entry (in the middle or the newest), swaps two, or forges one
with a locally valid hash; ``GET /v1/audit/verify`` and ``ilrflow-audit verify`` find and locate
each. Each test tampers with a topic of its own and puts the entries back afterwards."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.collection import Collection

from ilrflow.audit.domain.chain import entry_hash
from ilrflow.audit.domain.records import AuditEntry
from ilrflow.platform.kafka import ensure_topics
from tests.conftest import Stack, eventually
from tests.e2e.helpers import physical, produce, run

pytestmark = pytest.mark.e2e

RECORDS = 5
Tamper = Callable[[Collection[dict[str, Any]], list[dict[str, Any]]], None]


@pytest.fixture
def audited_topic(stack: Stack) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A new one-partition topic with five records, once the audit log holds all of them; the
    stored entries are restored exactly after the test."""
    topic = f"audit-tamper-{secrets.token_hex(3)}"
    run(ensure_topics(stack.settings.kafka_bootstrap, 1, [physical(topic)]))
    records = [(topic, b"k", {"note": b"tamper test"}, f'{{"n": {n}}}'.encode()) for n in range(5)]
    run(produce(stack.settings.kafka_bootstrap, records))
    entries = audit_collection(stack)
    stored = eventually(lambda: _all_stored(entries, topic), timeout=60)
    try:
        yield topic, stored
    finally:
        entries.delete_many({"topic": topic})
        entries.insert_many(stored)
        assert verify_over_http(stack)["failed_partitions"] == 0


def _all_stored(entries: Collection[dict[str, Any]], topic: str) -> list[dict[str, Any]]:
    stored = list(entries.find({"topic": topic}).sort("offset", 1))
    return stored if len(stored) == RECORDS else []


def audit_collection(stack: Stack) -> Collection[dict[str, Any]]:
    client: MongoClient[dict[str, Any]] = MongoClient(stack.settings.mongo_url, tz_aware=True)
    return client[stack.settings.database_name("audit")]["audit_entries"]


def verify_over_http(stack: Stack) -> dict[str, Any]:
    with stack.client("audit", "any-tenant", "operator-1", "operator") as http:
        response = http.get("/v1/audit/verify")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


def verify_on_the_command_line(stack: Stack) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "ilrflow.audit.main", "verify", "--json"],
        env={**os.environ, **stack.env},
        capture_output=True,
        timeout=120,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def problem_on(result: dict[str, Any], topic: str) -> dict[str, Any]:
    [report] = [r for r in result["reports"] if r["topic"] == topic]
    assert report["problem"] is not None, report
    problem: dict[str, Any] = report["problem"]
    return problem


def flip_a_byte(entries: Collection[dict[str, Any]], stored: list[dict[str, Any]]) -> None:
    value = stored[2]["value"]["data"]
    flipped = value[:-2] + ("8" if value[-2] != "8" else "9") + value[-1:]
    entries.update_one({"_id": stored[2]["_id"]}, {"$set": {"value.data": flipped}})


def delete_middle(entries: Collection[dict[str, Any]], stored: list[dict[str, Any]]) -> None:
    entries.delete_one({"_id": stored[2]["_id"]})


def delete_newest(entries: Collection[dict[str, Any]], stored: list[dict[str, Any]]) -> None:
    entries.delete_one({"_id": stored[-1]["_id"]})


def swap_two(entries: Collection[dict[str, Any]], stored: list[dict[str, Any]]) -> None:
    """Make offset 3's event appear before offset 2's by exchanging their places in the log."""
    first, second = stored[2], stored[3]
    for document, place in ((first, second), (second, first)):
        moved = {"offset": place["offset"], "id": place["id"]}
        entries.update_one({"_id": document["_id"]}, {"$set": moved})


def forge(entries: Collection[dict[str, Any]], stored: list[dict[str, Any]]) -> None:
    """Rewrite entry 2 and recompute its own hash from its real predecessor, as a forger would."""
    document = stored[2]
    entry = AuditEntry.model_validate({k: v for k, v in document.items() if k != "_id"})
    forged = entry.model_copy(update={"actor": "mallory"})
    rehashed = entry_hash(forged, entry.prev_hash or "")
    entries.update_one({"_id": document["_id"]}, {"$set": {"actor": "mallory", "hash": rehashed}})


@pytest.mark.parametrize(
    ("tamper", "kind", "position"),
    [
        (flip_a_byte, "hash_mismatch", 2),
        (delete_middle, "gap", 2),
        (delete_newest, "truncated", 3),
        (swap_two, "out_of_order", 2),
        (forge, "forged", 3),
    ],
    ids=["flipped-byte", "deleted-entry", "deleted-newest", "swapped", "forged"],
)
def test_tampering_is_detected_and_located(
    stack: Stack,
    audited_topic: tuple[str, list[dict[str, Any]]],
    tamper: Tamper,
    kind: str,
    position: int,
) -> None:
    topic, stored = audited_topic
    assert verify_over_http(stack)["failed_partitions"] == 0

    tamper(audit_collection(stack), stored)

    over_http = verify_over_http(stack)
    exit_code, on_the_command_line = verify_on_the_command_line(stack)
    for result in (over_http, on_the_command_line):
        assert result["failed_partitions"] == 1
        problem = problem_on(result, topic)
        assert problem["kind"] == kind, problem
        assert problem["offset"] == stored[position]["offset"] or kind == "gap", problem
    assert exit_code == 1
    if kind == "gap":
        problem = problem_on(over_http, topic)
        assert (problem["previous_offset"], problem["offset"]) == (1, 3)
        assert "offsets 2..2" in problem["detail"]
    if kind == "forged":
        problem = problem_on(over_http, topic)
        assert problem["previous_entry_id"] == stored[2]["id"]


def test_a_new_topic_is_audited_from_its_first_offset(
    audited_topic: tuple[str, list[dict[str, Any]]],
) -> None:
    _, stored = audited_topic
    assert [e["offset"] for e in stored] == list(range(RECORDS))
    assert [e["value"]["data"] for e in stored] == [f'{{"n": {n}}}' for n in range(RECORDS)]
    assert all(e["problems"] for e in stored)  # not CloudEvents: stored anyway, with the reason
