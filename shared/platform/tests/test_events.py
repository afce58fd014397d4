"""The CloudEvents wire format: what producers write, consumers read back exactly."""

from __future__ import annotations

import json

import pytest
from consumer_doubles import processed_event

from ilrflow.contracts.events import (
    CATALOGUE,
    Address,
    LearnerSnapshot,
    LearnerUpdated,
    event_from_document,
    event_to_document,
    from_wire,
    new_event,
    to_wire,
)
from ilrflow.platform.errors import PermanentError


def test_an_event_survives_the_wire_unchanged() -> None:
    event = processed_event()
    key, headers, value = to_wire(event)  # type: ignore[arg-type]
    assert key == b"t1:L1"
    assert headers["ce_type"] == "ilrflow.tracker.processed.v1"
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_correlationid"] == "T1"
    wire_headers = {k: v.encode() for k, v in headers.items()}
    assert from_wire(wire_headers, value) == event


def test_an_event_survives_the_outbox_unchanged() -> None:
    event = processed_event()
    document = event_to_document(event)  # type: ignore[arg-type]
    assert document["topic"] == "tracker-processed"
    json.dumps(document)  # the outbox holds plain JSON values only
    assert event_from_document(document) == event


@pytest.mark.parametrize(
    ("headers", "value", "reason"),
    [
        ({}, b"{}", "missing headers"),
        ({"ce_type": b"ilrflow.nope.v1"}, b"{}", "missing headers"),
        (
            {
                "ce_id": b"1",
                "ce_type": b"ilrflow.nope.v1",
                "ce_source": b"x",
                "ce_time": b"2026-01-01T00:00:00Z",
                "ce_subject": b"L1",
                "ce_tenant": b"t1",
            },
            b"{}",
            "unknown event type",
        ),
        (
            {
                "ce_id": b"1",
                "ce_type": b"ilrflow.tracker.processed.v1",
                "ce_source": b"x",
                "ce_time": b"2026-01-01T00:00:00Z",
                "ce_subject": b"L1",
                "ce_tenant": b"t1",
            },
            b'{"tracker_id": 5}',
            "payload does not match",
        ),
        (
            {
                "ce_id": b"1",
                "ce_type": b"ilrflow.tracker.processed.v1",
                "ce_source": b"x",
                "ce_time": b"not a time",
                "ce_subject": b"L1",
                "ce_tenant": b"t1",
            },
            to_wire(processed_event())[2],  # type: ignore[arg-type]
            "bad CloudEvents attributes",
        ),
        (
            {
                "ce_id": b"1",
                "ce_type": b"ilrflow.tracker.processed.v1",
                "ce_source": b"x",
                "ce_time": b"2026-01-01T00:00:00Z",
                "ce_subject": b"L1",
                "ce_tenant": b"t1",
            },
            b"\xff\x00 not json",
            "payload does not match",
        ),
    ],
)
def test_a_bad_record_is_a_permanent_error_with_its_reason(
    headers: dict[str, bytes], value: bytes, reason: str
) -> None:
    with pytest.raises(PermanentError, match=reason):
        from_wire(headers, value)


def test_every_payload_has_exactly_one_event_type() -> None:
    payloads = [entry.payload for entry in CATALOGUE.values()]
    assert len(payloads) == len(set(payloads))


def test_a_learner_update_carries_the_whole_record() -> None:
    learner = LearnerSnapshot(
        id="L1", given_names="A", family_name="B", address=Address(lines=["1"], postcode="X1 1XX")
    )
    event = new_event(
        LearnerUpdated(change="created", learner=learner), tenant="t", subject="L1", actor="a"
    )
    assert event.key == "t:L1"
    assert event.source == "ilrflow/learner"
