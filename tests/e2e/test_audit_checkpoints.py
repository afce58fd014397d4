"""Signed checkpoints against the real stack (``ilrflow audit checkpoint``, the API, the file and
the topic): someone with write access to the audit database
edits an entry, re-hashes the whole partition from there and rewrites its recorded tail, so
every chain check holds; ``GET /v1/audit/verify`` and ``ilrflow-audit verify`` still find it,
because the head an operator's checkpoint signed (kept in a file and on the compacted
``audit-checkpoints`` topic, outside the database) is no longer in the log."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pymongo import MongoClient

from ilrflow.audit.domain.chain import chain
from ilrflow.audit.domain.checkpoint import Checkpoint, signature_holds
from ilrflow.audit.domain.records import AuditEntry
from ilrflow.contracts.events import PLATFORM_TENANT, Topics
from ilrflow.platform.kafka import ensure_topics
from tests.conftest import Stack, eventually
from tests.e2e.helpers import physical, produce, read_topic, run
from tests.e2e.test_audit_tamper import (
    audit_collection,
    problem_on,
    verify_on_the_command_line,
    verify_over_http,
)
from tests.e2e.test_cli import ilrflow

pytestmark = pytest.mark.e2e

RECORDS = 5


@pytest.fixture
def audited_topic(stack: Stack) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A new one-partition topic with five stored records; the entries and the recorded tail
    are put back exactly afterwards."""
    topic = f"audit-checkpoint-{secrets.token_hex(3)}"
    run(ensure_topics(stack.settings.kafka_bootstrap, 1, [physical(topic)]))
    records = [(topic, b"k", {}, f'{{"n": {n}}}'.encode()) for n in range(RECORDS)]
    run(produce(stack.settings.kafka_bootstrap, records))
    entries = audit_collection(stack)
    stored = eventually(lambda: _all_stored(entries, topic), timeout=60)
    tails = _tails(stack)
    tail = tails.find_one({"_id": f"{topic}:0"})
    try:
        yield topic, stored
    finally:
        entries.delete_many({"topic": topic})
        entries.insert_many(stored)
        tails.replace_one({"_id": f"{topic}:0"}, tail)
        assert verify_over_http(stack)["failed_partitions"] == 0


def _all_stored(entries: Any, topic: str) -> list[dict[str, Any]]:
    stored = list(entries.find({"topic": topic}).sort("offset", 1))
    return stored if len(stored) == RECORDS else []


def _tails(stack: Stack) -> Any:
    client: MongoClient[dict[str, Any]] = MongoClient(stack.settings.mongo_url, tz_aware=True)
    return client[stack.settings.database_name("audit")]["audit_chain_tails"]


def sign_checkpoints(stack: Stack) -> list[Checkpoint]:
    with stack.client("audit", "any-tenant", "operator-1", "operator") as http:
        response = http.post("/v1/audit/checkpoints")
        assert response.status_code == 200, response.text
        return [Checkpoint.model_validate(c) for c in response.json()["signed"]]


def public_key(stack: Stack) -> Ed25519PublicKey:
    with stack.client("audit", "any-tenant", "support-1", "support") as http:
        response = http.get("/v1/audit/checkpoints/public-key")
        assert response.status_code == 200, response.text
    key = load_pem_public_key(response.json()["public_key_pem"].encode())
    assert isinstance(key, Ed25519PublicKey)
    return key


def rehash_the_partition(stack: Stack, stored: list[dict[str, Any]]) -> None:
    """Edit entry 1, chain it and every later entry again, and rewrite the recorded tail: the
    partition is internally consistent, as a careful attacker would leave it."""
    entries = [
        AuditEntry.model_validate({k: v for k, v in d.items() if k != "_id"}) for d in stored
    ]
    edited = entries[1].model_copy(update={"actor": "mallory"})
    rechained = chain([edited, *entries[2:]], prev_hash=entries[0].hash or "")
    collection = audit_collection(stack)
    for document, entry in zip(stored[1:], rechained, strict=True):
        links = {"actor": entry.actor, "prev_hash": entry.prev_hash, "hash": entry.hash}
        collection.update_one({"_id": document["_id"]}, {"$set": links})
    head = rechained[-1]
    _tails(stack).update_one({"_id": f"{head.topic}:0"}, {"$set": {"hash": head.hash}})


def test_a_re_hashed_partition_is_caught_by_its_signed_checkpoint(
    stack: Stack, audited_topic: tuple[str, list[dict[str, Any]]]
) -> None:
    topic, stored = audited_topic
    # Signed on the command line, straight from the database (its event goes out through the
    # running service's relay); the API then finds the head signed already.
    signed = ilrflow(stack, "audit", "checkpoint", "--json")["signed"]
    [checkpoint] = [Checkpoint.model_validate(c) for c in signed if c["topic"] == topic]
    assert topic not in {c.topic for c in sign_checkpoints(stack)}
    assert (checkpoint.partition, checkpoint.offset) == (0, RECORDS - 1)
    assert checkpoint.head_hash == stored[-1]["hash"]
    assert signature_holds(checkpoint, public_key(stack))
    # Published outside the database: a line of the file, an event on the compacted topic.
    directory = stack.env["ILRFLOW_AUDIT_CHECKPOINT_DIR"]
    file = Path(directory) / f"{stack.settings.database_name('audit')}.checkpoints.jsonl"
    lines = file.read_text().splitlines()
    assert checkpoint in [Checkpoint.model_validate_json(line) for line in lines]
    key = f"{PLATFORM_TENANT}:{topic}:0".encode()
    published = eventually(
        lambda: run(read_topic(stack.settings.kafka_bootstrap, Topics.AUDIT_CHECKPOINTS, key)),
        timeout=30,
    )
    # Binary mode: the value is the payload, the envelope is in the headers.
    assert Checkpoint.model_validate_json(published[-1].value) == checkpoint
    untouched = verify_over_http(stack)
    assert untouched["failed_partitions"] == 0
    assert untouched["checkpointed_partitions"] >= 1

    rehash_the_partition(stack, stored)

    # The signer will not bless the rewrite: its chain's latest checkpoint no longer holds.
    refusal = ilrflow(stack, "audit", "checkpoint", "--json", code=1)
    assert topic in {c["topic"] for c in json.loads(refusal.stdout)["refused"]}

    over_http = verify_over_http(stack)
    exit_code, on_the_command_line = verify_on_the_command_line(stack)
    for result in (over_http, on_the_command_line):
        assert result["failed_partitions"] == 1
        problem = problem_on(result, topic)
        # Only the checkpoint sees it: every link and the recorded tail hold.
        assert (problem["kind"], problem["offset"]) == ("checkpoint_mismatch", RECORDS - 1), problem
    assert exit_code == 1
