"""A learner's entries read as a story, oldest first."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from ilrflow.audit.domain import (
    DeadLetterInfo,
    TimelineLine,
    describe,
    entry_from_record,
    learner_timeline,
)
from ilrflow.contracts.events import (
    ApiClientChanged,
    ApiClientTokenIssued,
    ApiClientTokenRefused,
    AuditAccessed,
    IlrState,
    IlrUpdated,
    PatchOperation,
    TrackerAllocated,
    TrackerCancelled,
    TrackerRejected,
)

from .conftest import T0, RecordFactory, processed, raised


def ilr_applied() -> IlrUpdated:
    return IlrUpdated(
        learner_id="L1",
        tracker_id="T1",
        cause="tracker",
        version=3,
        outcome="applied",
        reason="address changed",
        patch=[
            PatchOperation(op="replace", path="/AddLine1", value="2 Low Rd"),
            PatchOperation(op="remove", path="/AddLine2"),
            PatchOperation(op="add", path="/LearningDelivery/0/CompStatus", value=6),
        ],
    )


def test_the_story_of_a_change_of_address(record_entry: RecordFactory) -> None:
    later = T0 + timedelta(hours=2)
    entries = [
        record_entry(ilr_applied(), offset=3, time=later + timedelta(minutes=1)),
        record_entry(processed(), offset=2, time=later),
        record_entry(raised(), offset=1, time=T0),
    ]

    lines = [str(line) for line in learner_timeline(entries)]

    assert lines == [
        "2026-01-05 10:00 — learner L1's tracker T1 (change_of_address) raised by learner L1",
        "2026-01-05 12:00 — learner L1's tracker T1 (change_of_address) processed by admin A1",
        "2026-01-05 12:01 — ILR version 3: applied — AddLine1 changed to '2 Low Rd'; "
        "AddLine2 removed; LearningDelivery.0.CompStatus set to 6 (tracker T1)",
    ]


def test_duplicates_and_ilr_snapshots_are_left_out(record_entry: RecordFactory) -> None:
    state = IlrState(learner_id="L1", version=3, qa_verified=False, learner={})
    entries = [
        record_entry(raised(), offset=1),
        record_entry(raised(), offset=2).model_copy(update={"duplicate_of": "tracker-raised:0:1"}),
        record_entry(state, offset=1),
    ]

    assert [line.entry_id for line in learner_timeline(entries)] == ["tracker-raised:0:1"]


def test_times_can_be_shown_in_local_time(record_entry: RecordFactory) -> None:
    summer = T0.replace(month=7)

    line = learner_timeline([record_entry(time=summer)], tz=ZoneInfo("Europe/London"))[0]

    assert line.text.startswith("2026-07-05 11:00 — ")


def test_other_outcomes_read_naturally(record_entry: RecordFactory) -> None:
    allocated = TrackerAllocated(
        tracker_id="T1",
        learner_id="L1",
        tracker_type="withdrawal",
        allocated_to="A2",
        previously_allocated_to="A1",
        allocated_by="M1",
    )
    rejected = TrackerRejected(
        tracker_id="T1",
        learner_id="L1",
        tracker_type="withdrawal",
        reason="wrong date",
        rejected_by="A2",
        raised_by="S1",
    )
    no_change = IlrUpdated(
        learner_id="L1", cause="tracker", version=4, outcome="no_ilr_change", reason="not employed"
    )

    assert describe(record_entry(allocated)).endswith("re-allocated from A1 to admin A2 by M1")
    assert describe(record_entry(rejected)).endswith('rejected by A2: "wrong date"')
    assert (
        describe(record_entry(no_change)) == "ILR version 4: no ILR change — not employed (tracker)"
    )


def test_poison_and_dead_letters_are_described_not_hidden(record_entry: RecordFactory) -> None:
    poison = entry_from_record("tracker-raised", 0, 1, None, {}, b"\xff", 0)
    dead = record_entry(topic="tracker-raised.dlt").model_copy(
        update={"dead_letter": DeadLetterInfo(original_topic="tracker-raised", reason="boom")}
    )

    assert describe(poison).startswith("unreadable record: not a CloudEvent")
    assert describe(dead).startswith("dead letter from tracker-raised (boom): learner L1's")


def test_the_note_and_reasons_say_why(record_entry: RecordFactory) -> None:
    with_note = raised().model_copy(update={"note": "Moved in with my partner"})
    cancelled = TrackerCancelled(
        tracker_id="T1",
        learner_id="L1",
        tracker_type="change_of_address",
        reason="raised twice",
        cancelled_by="A1",
        raised_by="L1",
    )
    changed = processed().model_copy(update={"changes": {"address": {}, "email": "a@b.org"}})

    assert describe(record_entry(with_note)).endswith(
        'raised by learner L1 — note: "Moved in with my partner"'
    )
    assert describe(record_entry(cancelled)).endswith('cancelled by A1: "raised twice"')
    assert describe(record_entry(changed)).endswith(
        "processed by admin A1 (changes: address, email)"
    )


def test_staff_are_named_when_the_line_is_read(record_entry: RecordFactory) -> None:
    line = learner_timeline([record_entry(processed())])[0]

    assert line.staff == {"A1"}
    assert line.text.endswith("processed by admin A1")
    named = line.named({"A1": "Ada Admin"})
    assert named.text == (
        "2026-01-05 10:00 — learner L1's tracker T1 (change_of_address) "
        "processed by admin Ada Admin (A1)"
    )
    assert line.named({}).text == line.text
    assert (
        TimelineLine(line.time, line.entry_id, "stored before names")
        .named({"A1": "Ada Admin"})
        .text
        == "stored before names"
    )


def test_reads_of_the_audit_log_join_the_timeline_only_when_asked_for(
    record_entry: RecordFactory,
) -> None:
    read = AuditAccessed(
        action="timeline",
        accessed_by="S1",
        accessed_by_roles=["support"],
        learner_id="L1",
        results=3,
    )
    later = T0 + timedelta(minutes=1)
    entries = [record_entry(raised(), offset=1), record_entry(read, offset=2, time=later)]

    assert len(learner_timeline(entries)) == 1
    lines = learner_timeline(entries, include_access=True)
    assert (
        lines[1]
        .named({"S1": "Sue Support"})
        .text.endswith("support Sue Support (S1) read learner L1's audit timeline: 3 entries")
    )


def test_api_client_events_say_which_client_did_what(record_entry: RecordFactory) -> None:
    issued = ApiClientTokenIssued(
        client_id="cli_1", scopes=["ilr:read"], expires_at=T0 + timedelta(minutes=10)
    )
    refused = ApiClientTokenRefused(client_id="cli_1", reason="bad_secret")
    changed = ApiClientChanged(client_id="cli_1", name="MIS", scopes=["ilr:read"], change="revoked")
    assert describe(record_entry(issued, subject="cli_1")).startswith(
        "API client cli_1 got a token (ilr:read) valid until "
    )
    assert describe(record_entry(refused, subject="cli_1")) == (
        "API client cli_1 was refused a token: bad_secret"
    )
    assert describe(record_entry(changed, subject="cli_1")) == (
        "API client cli_1 (MIS) revoked; scopes ilr:read"
    )
