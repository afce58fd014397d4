"""A learner's entries read as a story, oldest first."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from ilrflow.audit.domain import DeadLetterInfo, describe, entry_from_record, learner_timeline
from ilrflow.contracts.events import (
    IlrState,
    IlrUpdated,
    PatchOperation,
    TrackerAllocated,
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
    assert describe(record_entry(rejected)).endswith("rejected by A2: wrong date")
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
