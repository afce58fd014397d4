"""The Tracker aggregate: transitions, events, history, versions, storage form."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from tracker_builders import (
    ADDRESS,
    ADMIN,
    LEARNER,
    OTHER_ADMIN,
    RETURN,
    T0,
    TUTOR,
    minutes,
    raise_tracker,
)

from ilrflow.contracts.events import (
    TrackerAllocated,
    TrackerCancelled,
    TrackerProcessed,
    TrackerRaised,
    TrackerRejected,
)
from ilrflow.contracts.trackers import ChangesInvalid, parse_changes
from ilrflow.tracker.domain import (
    IllegalTransition,
    InvalidCommandError,
    LastDayNotReachedError,
    Tracker,
    VersionConflict,
)


def test_raising_records_the_canonical_changes_and_publishes_tracker_raised() -> None:
    tracker, events = Tracker.raise_new(
        tracker_id="trk-1",
        tenant="acme",
        learner_id="learner-1",
        learner_group="group-a",
        tracker_type="change_of_address",
        changes=parse_changes("change_of_address", ADDRESS),
        actor=LEARNER,
        now=T0,
        note="moved",
        candidate_processors=["admin-1", "admin-2"],
    )
    assert tracker.status == "raised"
    assert tracker.version == 1
    assert tracker.changes["address"]["postcode"] == "LS1 1AA"
    assert [h.action for h in tracker.history] == ["raised"]
    assert events == [
        TrackerRaised(
            tracker_id="trk-1",
            learner_id="learner-1",
            tracker_type="change_of_address",
            changes=tracker.changes,
            note="moved",
            raised_by="learner-1",
            raised_by_roles=["learner"],
            candidate_processors=["admin-1", "admin-2"],
        )
    ]


def test_raising_with_an_allocation_starts_allocated_and_names_no_candidates() -> None:
    tracker, events = Tracker.raise_new(
        tracker_id="trk-1",
        tenant="acme",
        learner_id="learner-1",
        learner_group=None,
        tracker_type="return_to_learning",
        changes=parse_changes("return_to_learning", RETURN),
        actor=TUTOR,
        now=T0,
        allocated_to="admin-1",
        candidate_processors=["admin-2"],
        on_behalf_of_learner=True,
        preview={"planned_end_date": "2025-11-29", "working": ["x"]},
    )
    assert tracker.status == "allocated"
    raised = events[0]
    assert isinstance(raised, TrackerRaised)
    assert (raised.allocated_to, raised.candidate_processors) == ("admin-1", [])
    assert raised.on_behalf_of_learner is True
    assert tracker.preview == {"planned_end_date": "2025-11-29", "working": ["x"]}


def test_changes_parsed_for_another_type_are_refused() -> None:
    with pytest.raises(InvalidCommandError) as caught:
        Tracker.raise_new(
            tracker_id="trk-1",
            tenant="acme",
            learner_id="learner-1",
            learner_group=None,
            tracker_type="change_of_name",
            changes=parse_changes("change_of_address", ADDRESS),
            actor=LEARNER,
            now=T0,
        )
    assert caught.value.field == "changes"


def test_allocation_and_reallocation_publish_tracker_allocated() -> None:
    tracker = raise_tracker()
    first = tracker.allocate("admin-1", ADMIN, minutes(1))
    second = tracker.allocate("admin-2", ADMIN, minutes(2), expected_version=2)
    assert tracker.status == "allocated"
    assert tracker.allocated_to == "admin-2"
    assert first == [
        TrackerAllocated(
            tracker_id="trk-1",
            learner_id="learner-1",
            tracker_type="change_of_address",
            allocated_to="admin-1",
            previously_allocated_to=None,
            allocated_by="admin-1",
        )
    ]
    assert isinstance(second[0], TrackerAllocated)
    assert second[0].previously_allocated_to == "admin-1"
    assert tracker.history[-1].details == {"from": "admin-1", "to": "admin-2"}


def test_an_allocations_reason_is_kept_in_the_history() -> None:
    tracker = raise_tracker()
    tracker.allocate("admin-1", ADMIN, minutes(1), reason="  Ada is covering cohort A  ")
    assert tracker.history[-1].details == {
        "from": None,
        "to": "admin-1",
        "reason": "Ada is covering cohort A",
    }


def test_allocating_to_nobody_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        raise_tracker().allocate("", ADMIN, minutes(1))


def test_processing_publishes_the_changes_and_who_processed() -> None:
    tracker = raise_tracker()
    events = tracker.process(ADMIN, minutes(5))
    assert tracker.status == "processed"
    assert (tracker.decided_by, tracker.decided_at) == ("admin-1", minutes(5))
    assert events == [
        TrackerProcessed(
            tracker_id="trk-1",
            learner_id="learner-1",
            tracker_type="change_of_address",
            changes=tracker.changes,
            processed_by="admin-1",
            processor_roles=["admin"],
            raised_by="learner-1",
            learner_led=True,
        )
    ]


def test_staff_led_types_are_not_learner_led_when_processed() -> None:
    tracker = raise_tracker("return_to_learning", RETURN, actor=TUTOR)
    (event,) = tracker.process(ADMIN, minutes(1))
    assert isinstance(event, TrackerProcessed)
    assert event.learner_led is False


LEAVING = {
    "break_in_learning": {"expected_return_date": "2025-06-02", "reason": "illness"},
    "withdrawal": {"reason": "44"},
    "change_of_programme": {"new_standard_code": 91},
}


@pytest.mark.parametrize("tracker_type", sorted(LEAVING))
def test_learning_cannot_be_ended_in_the_ilr_before_the_last_day(tracker_type: str) -> None:
    # Raised at T0 (2025-03-01) for a last day still to come: a break agreed in advance.
    changes = {"last_day_of_learning": "2025-03-07", **LEAVING[tracker_type]}
    tracker = raise_tracker(tracker_type, changes, actor=ADMIN)
    before = tracker.model_copy(deep=True)

    with pytest.raises(LastDayNotReachedError) as caught:
        tracker.process(ADMIN, datetime(2025, 3, 6, 23, 59, tzinfo=UTC))

    assert caught.value.code == "last_day_not_reached"
    assert caught.value.problems == [
        {
            "field": "changes.last_day_of_learning",
            "reason": "LearnActEndDate_04: the last day of learning 2025-03-07 is after today "
            "(2025-03-06); process the tracker on or after that day",
        }
    ]
    assert tracker == before
    tracker.process(ADMIN, datetime(2025, 3, 7, 0, 0, tzinfo=UTC))
    assert tracker.status == "processed"


def test_rejection_needs_a_reason_and_publishes_it() -> None:
    tracker = raise_tracker()
    with pytest.raises(InvalidCommandError) as caught:
        tracker.reject("  ", ADMIN, minutes(1))
    assert caught.value.field == "reason"
    assert tracker.version == 1
    events = tracker.reject(" no evidence ", ADMIN, minutes(2))
    assert tracker.status == "rejected"
    assert tracker.decision_reason == "no evidence"
    assert events == [
        TrackerRejected(
            tracker_id="trk-1",
            learner_id="learner-1",
            tracker_type="change_of_address",
            reason="no evidence",
            rejected_by="admin-1",
            raised_by="learner-1",
        )
    ]


def test_cancelling_publishes_tracker_cancelled_and_keeps_the_reason() -> None:
    tracker = raise_tracker()
    assert tracker.cancel(LEARNER, minutes(1), reason=" typo ") == [
        TrackerCancelled(
            tracker_id=tracker.id,
            learner_id=tracker.learner_id,
            tracker_type="change_of_address",
            reason="typo",
            cancelled_by=LEARNER.id,
            raised_by=tracker.raised_by,
            allocated_to=tracker.allocated_to,
        )
    ]
    assert (tracker.status, tracker.decision_reason) == ("cancelled", "typo")
    assert tracker.history[-1].action == "cancelled"


@pytest.mark.parametrize(
    ("finish", "state"),
    [
        (lambda t: t.process(ADMIN, minutes(1)), "processed"),
        (lambda t: t.reject("no", ADMIN, minutes(1)), "rejected"),
        (lambda t: t.cancel(ADMIN, minutes(1)), "cancelled"),
    ],
)
@pytest.mark.parametrize(
    "action",
    [
        lambda t: t.process(ADMIN, minutes(2)),
        lambda t: t.reject("no", ADMIN, minutes(2)),
        lambda t: t.cancel(ADMIN, minutes(2)),
        lambda t: t.allocate("admin-2", ADMIN, minutes(2)),
        lambda t: t.edit(t.version, parse_changes("change_of_address", ADDRESS), ADMIN, minutes(2)),
    ],
)
def test_terminal_states_refuse_every_command(
    finish: Callable[[Tracker], object], state: str, action: Callable[[Tracker], object]
) -> None:
    tracker = raise_tracker()
    finish(tracker)
    before = tracker.model_copy(deep=True)
    with pytest.raises(IllegalTransition) as caught:
        action(tracker)
    assert caught.value.current_state == state
    assert tracker == before


def test_edit_is_versioned_and_keeps_before_and_after() -> None:
    tracker = raise_tracker()
    new = {"address": {"lines": ["2 Low Road"], "postcode": "LS2 2BB"}}
    tracker.edit(1, parse_changes("change_of_address", new), ADMIN, minutes(3), note="checked")
    assert tracker.version == 2
    assert tracker.changes == new
    entry = tracker.history[-1]
    assert (entry.action, entry.actor, entry.at, entry.version) == (
        "edited",
        "admin-1",
        minutes(3),
        2,
    )
    assert entry.details["before"] == {"address": ADDRESS["address"] | {"postcode": "LS1 1AA"}}
    assert entry.details["after"] == {"address": new["address"]}
    assert entry.details["note"] == {"before": None, "after": "checked"}


def test_a_stale_edit_is_refused_with_the_current_version() -> None:
    tracker = raise_tracker()
    tracker.allocate("admin-1", ADMIN, minutes(1))
    with pytest.raises(VersionConflict) as caught:
        tracker.edit(1, parse_changes("change_of_address", ADDRESS), ADMIN, minutes(2))
    assert caught.value.current_version == 2
    assert tracker.version == 2


def test_a_stale_process_is_refused_when_a_version_is_given() -> None:
    tracker = raise_tracker()
    with pytest.raises(VersionConflict):
        tracker.process(ADMIN, minutes(1), expected_version=7)
    assert tracker.status == "raised"


def test_override_planned_end_date_needs_a_reason() -> None:
    tracker = raise_tracker("return_to_learning", RETURN, actor=TUTOR)
    with pytest.raises(ChangesInvalid) as caught:
        tracker.override_planned_end_date(1, date(2025, 12, 1), "", ADMIN, minutes(1))
    assert [p["field"] for p in caught.value.problems] == ["changes.override_reason"]
    tracker.override_planned_end_date(1, date(2025, 12, 1), "EPA booked", ADMIN, minutes(1))
    assert tracker.changes["planned_end_date"] == "2025-12-01"
    assert tracker.changes["override_reason"] == "EPA booked"
    assert tracker.history[-1].action == "planned_end_date_overridden"
    assert tracker.history[-1].details["after"]["planned_end_date"] == "2025-12-01"


def test_override_planned_end_date_only_for_a_return_to_learning() -> None:
    with pytest.raises(InvalidCommandError) as caught:
        raise_tracker().override_planned_end_date(1, date(2026, 1, 1), "x", ADMIN, minutes(1))
    assert caught.value.field == "planned_end_date"


def test_ilr_outcome_is_recorded_once_after_processing() -> None:
    tracker = raise_tracker()
    with pytest.raises(IllegalTransition):
        tracker.record_ilr_outcome("applied", "done", minutes(1))
    tracker.process(ADMIN, minutes(1))
    tracker.record_ilr_outcome("no_ilr_change", "not in paid employment", minutes(2), ilr_version=3)
    assert tracker.ilr_outcome is not None
    assert (tracker.ilr_outcome.status, tracker.ilr_outcome.ilr_version) == ("no_ilr_change", 3)
    assert tracker.history[-1].actor == "system:ilr"
    version = tracker.version
    tracker.record_ilr_outcome("no_ilr_change", "not in paid employment", minutes(3), ilr_version=3)
    assert tracker.version == version
    with pytest.raises(IllegalTransition):
        tracker.record_ilr_outcome("applied", "other", minutes(4), ilr_version=4)


def test_preview_with_unstorable_keys_is_refused() -> None:
    with pytest.raises(InvalidCommandError) as caught:
        raise_tracker(preview={"a.b": 1})
    assert caught.value.field == "preview"
    with pytest.raises(InvalidCommandError):
        raise_tracker(preview={"working": [[1, 2]]})


def test_document_round_trip_keeps_everything() -> None:
    tracker = raise_tracker(preview={"planned_end_date": "2025-11-29"})
    tracker.allocate("admin-1", ADMIN, minutes(1))
    tracker.process(OTHER_ADMIN, minutes(2))
    tracker.record_ilr_outcome("applied", "ok", minutes(3), patch=[{"op": "replace"}])
    document = tracker.to_document()
    assert document["_id"] == "trk-1"
    assert "id" not in document
    assert isinstance(document["raised_at"], datetime)
    document["outbox"] = [{"id": "evt"}]
    assert Tracker.from_document(document) == tracker


def test_naive_datetimes_from_mongodb_read_back_as_utc() -> None:
    tracker = raise_tracker()
    document = tracker.to_document()
    document["raised_at"] = document["raised_at"].replace(tzinfo=None)
    assert Tracker.from_document(document).raised_at == T0
