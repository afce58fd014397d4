"""Small builders shared by the tracker domain tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ilrflow.contracts.trackers import parse_changes
from ilrflow.tracker.domain import Actor, Tracker

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
LEARNER = Actor("learner-1", frozenset({"learner"}))
TUTOR = Actor("tutor-1", frozenset({"tutor"}), frozenset({"group-a"}))
ADMIN = Actor("admin-1", frozenset({"admin"}), frozenset({"group-a"}))
OTHER_ADMIN = Actor("admin-2", frozenset({"admin"}))
QA_ADMIN = Actor("admin-qa", frozenset({"admin", "ilr_qa"}))

ADDRESS = {"address": {"lines": ["1 High Street", "Leeds"], "postcode": "ls1 1aa"}}


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def raise_tracker(
    tracker_type: str = "change_of_address",
    changes: dict[str, Any] | None = None,
    actor: Actor = LEARNER,
    **options: Any,
) -> Tracker:
    tracker, _ = Tracker.raise_new(
        tracker_id="trk-1",
        tenant="acme",
        learner_id="learner-1",
        learner_group="group-a",
        tracker_type=tracker_type,
        changes=parse_changes(tracker_type, changes if changes is not None else ADDRESS),
        actor=actor,
        now=T0,
        **options,
    )
    return tracker


RETURN = {"return_date": "2025-04-01"}
