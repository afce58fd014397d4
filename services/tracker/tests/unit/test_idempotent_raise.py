"""The ids and fingerprints that make a retried raise with an Idempotency-Key safe."""

from __future__ import annotations

from ilrflow.tracker.service.use_cases import idempotent_tracker_id, request_fingerprint


def test_the_same_key_from_the_same_raiser_gives_the_same_id() -> None:
    assert idempotent_tracker_id("acme", "admin-1", "k1") == idempotent_tracker_id(
        "acme", "admin-1", "k1"
    )


def test_keys_are_scoped_to_tenant_and_raiser() -> None:
    ids = {
        idempotent_tracker_id("acme", "admin-1", "k1"),
        idempotent_tracker_id("acme", "admin-2", "k1"),
        idempotent_tracker_id("other", "admin-1", "k1"),
        idempotent_tracker_id("acme", "admin-1", "k2"),
    }
    assert len(ids) == 4
    assert all(i.startswith("T") and len(i) == 13 for i in ids)


def test_the_fingerprint_ignores_key_order_but_not_values() -> None:
    one = request_fingerprint("change_of_name", "L1", {"a": 1, "b": 2}, None)
    assert one == request_fingerprint("change_of_name", "L1", {"b": 2, "a": 1}, None)
    assert one != request_fingerprint("change_of_name", "L1", {"a": 1, "b": 3}, None)
    assert one != request_fingerprint("change_of_name", "L1", {"a": 1, "b": 2}, "a note")
    assert one != request_fingerprint("change_of_address", "L1", {"a": 1, "b": 2}, None)
