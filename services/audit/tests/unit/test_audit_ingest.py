"""entry_from_record stores every record, readable or not, and notes what it could not parse."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from ilrflow.audit.domain import entry_from_record
from ilrflow.audit.domain.records import StoredBytes
from ilrflow.contracts.events import LearnerSnapshot, LearnerUpdated, StaffUpdated, to_wire

from .conftest import T0, event_of, raised


def test_a_good_record_exposes_its_envelope_fields() -> None:
    event = event_of(raised("T7", "L3"), causation_id="E0")
    key, headers, value = to_wire(event)

    entry = entry_from_record("tracker-raised", 2, 41, key, headers, value, 1767607200123)

    assert entry.id == "tracker-raised:2:41"
    assert (entry.tenant, entry.event_type, entry.event_id) == ("acme", event.type, event.id)
    assert (entry.subject, entry.learner_id, entry.tracker_id) == ("L3", "L3", "T7")
    assert (entry.actor, entry.correlation_id, entry.causation_id) == ("A1", "C1", "E0")
    assert entry.event_time == T0
    assert entry.time == T0
    assert entry.recorded_at == datetime(2026, 1, 5, 10, 0, 0, 123000, tzinfo=UTC)
    assert entry.problems == []
    assert entry.dead_letter is None


def test_raw_key_headers_and_value_are_kept_exactly() -> None:
    key, headers, value = to_wire(event_of(raised()))

    entry = entry_from_record("tracker-raised", 0, 0, key, headers, value, 0)

    assert entry.key is not None
    assert entry.key.to_bytes() == key
    assert entry.value is not None
    assert entry.value.to_bytes() == value
    assert {h.name: h.value.as_text() for h in entry.headers if h.value} == headers
    assert [h.name for h in entry.headers] == sorted(headers)


def test_random_bytes_are_stored_with_problems_noted() -> None:
    entry = entry_from_record("tracker-raised", 0, 9, b"\xff", {}, b"\x00\xfe\x81", 1000)

    assert entry.value is not None
    assert entry.value.encoding == "base64"
    assert entry.value.to_bytes() == b"\x00\xfe\x81"
    assert any("missing headers" in p for p in entry.problems)
    assert "value is not a JSON object" in entry.problems
    assert entry.tenant is None


def _texts(value: object) -> list[str]:
    """Every string in a dumped model, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*_texts(k), *_texts(v))]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _texts(item)]
    return []


def test_no_text_of_the_entry_holds_a_nul_though_the_record_does() -> None:
    """PostgreSQL's jsonb refuses U+0000 anywhere: the entry's texts carry U+FFFD instead, and
    the record's own bytes are kept exactly."""
    key, headers, value = to_wire(event_of(raised("T\x007", "L3")))
    headers = {**headers, "ce_id": b"\xff\xfe\x00\x81", "x\x00name": b"v"}

    entry = entry_from_record("tracker-raised", 0, 3, key, headers, value, 1000)

    assert not [text for text in _texts(entry.model_dump()) if "\x00" in text]
    assert entry.tracker_id == "T\ufffd7"
    assert entry.event_id == "\ufffd\ufffd\ufffd\ufffd"
    assert "header ce_id holds a NUL character" in entry.problems
    stored = {h.name: h.value.to_bytes() for h in entry.headers if h.value}
    assert stored["ce_id"] == b"\xff\xfe\x00\x81"
    assert stored["x\ufffdname"] == b"v"
    assert entry.value is not None
    assert entry.value.to_bytes() == value


def test_bad_json_under_good_headers_keeps_the_envelope_and_notes_the_payload() -> None:
    _, headers, _ = to_wire(event_of(raised()))

    entry = entry_from_record("tracker-raised", 0, 1, None, headers, b"{not json", 1000)

    assert entry.tenant == "acme"
    assert entry.event_type == "ilrflow.tracker.raised.v1"
    assert any("payload does not match" in p for p in entry.problems)


def test_a_payload_that_breaks_its_contract_still_yields_its_tracker_and_learner() -> None:
    _, headers, _ = to_wire(event_of(raised()))
    value = b'{"tracker_id": "T9", "learner_id": "L9"}'

    entry = entry_from_record("tracker-raised", 0, 1, None, headers, value, 1000)

    assert (entry.tracker_id, entry.learner_id) == ("T9", "L9")
    assert entry.problems


def test_non_utf8_header_is_noted_and_kept_losslessly() -> None:
    _, headers, value = to_wire(event_of(raised()))
    headers_with_bad_actor = {**headers, "ce_actor": b"\xc3\x28"}

    entry = entry_from_record("tracker-raised", 0, 1, None, headers_with_bad_actor, value, 1000)

    assert "header ce_actor is not UTF-8" in entry.problems
    stored = next(h for h in entry.headers if h.name == "ce_actor")
    assert stored.value is not None
    assert stored.value.to_bytes() == b"\xc3\x28"


def test_event_on_the_wrong_topic_is_noted() -> None:
    key, headers, value = to_wire(event_of(raised()))

    entry = entry_from_record("ilr-updated", 0, 1, key, headers, value, 1000)

    assert any("does not belong on ilr-updated" in p for p in entry.problems)


def test_dead_letter_exposes_its_origin_and_reason() -> None:
    key, headers, value = to_wire(event_of(raised()))
    dlt_headers = {
        **headers,
        "dlt_original_topic": "tracker-raised",
        "dlt_original_partition": "3",
        "dlt_original_offset": "77",
        "dlt_reason": "learner unknown",
        "dlt_error_class": "PermanentError",
        "dlt_consumer_group": "notify",
    }

    entry = entry_from_record("tracker-raised.dlt", 0, 4, key, dlt_headers, value, 1000)

    assert entry.dead_letter is not None
    assert entry.dead_letter.original_topic == "tracker-raised"
    assert (entry.dead_letter.original_partition, entry.dead_letter.original_offset) == (3, 77)
    assert entry.dead_letter.reason == "learner unknown"
    assert entry.dead_letter.consumer_group == "notify"
    assert entry.problems == []  # the event itself is fine; the DLT is not "on the wrong topic"


def test_dead_letter_with_broken_coordinates_is_noted() -> None:
    headers = {"dlt_original_partition": "three"}

    entry = entry_from_record("tracker-raised.dlt", 0, 0, None, headers, b"", 1000)

    assert entry.dead_letter is not None
    assert entry.dead_letter.original_partition is None
    assert "dead letter without dlt_original_topic" in entry.problems
    assert any("dlt_original_partition is not an integer" in p for p in entry.problems)


def test_tombstone_on_the_compacted_topic_is_not_a_problem() -> None:
    entry = entry_from_record("ilr-state", 1, 5, b"acme:L1", {}, None, 1000)

    assert entry.value is None
    assert entry.problems == []


def test_unparseable_ce_time_falls_back_to_the_record_time() -> None:
    _, headers, value = to_wire(event_of(raised()))

    entry = entry_from_record(
        "tracker-raised", 0, 1, None, {**headers, "ce_time": "soon"}, value, 0
    )

    assert entry.event_time is None
    assert entry.time == datetime(1970, 1, 1, tzinfo=UTC)
    assert "ce_time 'soon' is not an ISO 8601 time" in entry.problems


def test_out_of_range_timestamp_is_noted_not_raised() -> None:
    entry = entry_from_record("tracker-raised", 0, 1, None, {}, b"{}", 10**20)

    assert entry.recorded_at is None
    assert any("out of range" in p for p in entry.problems)


def test_learner_of_a_learner_update_comes_from_the_snapshot_and_staff_has_none() -> None:
    snapshot = LearnerSnapshot(id="L5", given_names="Ann", family_name="Lee")
    learner_event = event_of(LearnerUpdated(change="created", learner=snapshot))
    staff_event = event_of(StaffUpdated(id="S1", name="Sam", email="s@x", roles=[], groups=[]))

    learner_entry = entry_from_record("learner-updated", 0, 1, None, *to_wire(learner_event)[1:], 0)
    staff_entry = entry_from_record("learner-updated", 0, 2, None, *to_wire(staff_event)[1:], 0)

    assert learner_entry.learner_id == "L5"
    assert staff_entry.learner_id is None


def test_nul_bytes_are_stored_as_base64_so_any_document_store_accepts_them() -> None:
    assert StoredBytes.of(b"a\x00b").encoding == "base64"
    assert StoredBytes.of(b"a\x00b").to_bytes() == b"a\x00b"


@given(st.binary())
def test_stored_bytes_round_trip_losslessly(raw: bytes) -> None:
    assert StoredBytes.of(raw).to_bytes() == raw


headers_strategy = st.dictionaries(
    st.sampled_from(["ce_id", "ce_type", "ce_time", "ce_tenant", "dlt_original_offset", "x"])
    | st.text(max_size=5),
    st.none() | st.binary(max_size=20) | st.text(max_size=20),
    max_size=6,
)


@given(
    topic=st.sampled_from(["tracker-raised", "tracker-raised.dlt", "ilr-state", "odd"]),
    key=st.none() | st.binary(max_size=20),
    headers=headers_strategy,
    value=st.none() | st.binary(max_size=60) | st.just(b'{"tracker_id": 1, "learner": []}'),
    timestamp_ms=st.none() | st.integers(),
)
def test_entry_from_record_never_fails(
    topic: str,
    key: bytes | None,
    headers: dict[str, bytes | str | None],
    value: bytes | None,
    timestamp_ms: int | None,
) -> None:
    entry = entry_from_record(topic, 0, 0, key, headers, value, timestamp_ms)

    assert entry.id == f"{topic}:0:0"
    assert (entry.value.to_bytes() if entry.value else None) == value
