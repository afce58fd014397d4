"""Stateful property test: no sequence of commands breaks the tracker's invariants.

Hypothesis drives a tracker with random commands (legal or not, fresh or stale versions) and
checks after every step that the state is one of the five, that every success adds exactly one
history entry and one version, that every refusal leaves the tracker untouched, that terminal
states stay terminal, and that the storage form round-trips.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from itertools import pairwise

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from tracker_builders import ADMIN, LEARNER, OTHER_ADMIN, RETURN, TUTOR, minutes, raise_tracker

from ilrflow.contracts.events import IlrOutcomeStatus
from ilrflow.contracts.trackers import ChangesInvalid, parse_changes
from ilrflow.tracker.domain import (
    OPEN_STATES,
    TERMINAL_STATES,
    Actor,
    IllegalTransition,
    InvalidCommandError,
    Tracker,
    VersionConflict,
)

REFUSALS = (IllegalTransition, VersionConflict, InvalidCommandError, ChangesInvalid)
STATES = OPEN_STATES | TERMINAL_STATES
actors = st.sampled_from([ADMIN, OTHER_ADMIN, TUTOR, LEARNER])
reasons = st.sampled_from(["", "   ", "no evidence", "duplicate"])


class TrackerMachine(RuleBasedStateMachine):
    tracker: Tracker

    def __init__(self) -> None:
        super().__init__()
        self.clock = 0
        self.terminal_status: str | None = None

    @initialize(
        tracker_type=st.sampled_from(["change_of_address", "return_to_learning"]),
        allocated_to=st.sampled_from([None, "admin-1"]),
    )
    def raise_one(self, tracker_type: str, allocated_to: str | None) -> None:
        changes = RETURN if tracker_type == "return_to_learning" else None
        self.tracker = raise_tracker(tracker_type, changes, actor=TUTOR, allocated_to=allocated_to)

    # --- commands --------------------------------------------------------------------------

    @rule(to=st.sampled_from(["admin-1", "admin-2", ""]), actor=actors, stale=st.booleans())
    def allocate(self, to: str, actor: Actor, stale: bool) -> None:
        self._attempt(
            lambda t, now: t.allocate(to, actor, now, expected_version=self._version(stale))
        )

    @rule(actor=actors, stale=st.booleans(), street=st.sampled_from(["1 New St", "2 Old Rd"]))
    def edit(self, actor: Actor, stale: bool, street: str) -> None:
        if self.tracker.tracker_type == "return_to_learning":
            changes = parse_changes("return_to_learning", {"return_date": "2025-04-02"})
        else:
            address = {"address": {"lines": [street], "postcode": "LS1 1AA"}}
            changes = parse_changes("change_of_address", address)
        self._attempt(
            lambda t, now: t.edit(self._version(stale, required=True), changes, actor, now)
        )

    @rule(actor=actors, days=st.integers(-10, 400), reason=reasons)
    def override_planned_end_date(self, actor: Actor, days: int, reason: str) -> None:
        planned_end = date(2025, 4, 1) + timedelta(days=days)
        self._attempt(
            lambda t, now: t.override_planned_end_date(t.version, planned_end, reason, actor, now)
        )

    @rule(actor=actors, stale=st.booleans())
    def process(self, actor: Actor, stale: bool) -> None:
        self._attempt(lambda t, now: t.process(actor, now, expected_version=self._version(stale)))

    @rule(actor=actors, reason=reasons)
    def reject(self, actor: Actor, reason: str) -> None:
        self._attempt(lambda t, now: t.reject(reason, actor, now))

    @rule(actor=actors, reason=st.sampled_from([None, "", "typo"]))
    def cancel(self, actor: Actor, reason: str | None) -> None:
        self._attempt(lambda t, now: t.cancel(actor, now, reason=reason))

    @rule(
        status=st.sampled_from(["applied", "no_ilr_change", "rejected"]), version=st.integers(1, 2)
    )
    def record_ilr_outcome(self, status: IlrOutcomeStatus, version: int) -> None:
        recorded = self.tracker.ilr_outcome
        repeat = recorded is not None and (recorded.status, recorded.ilr_version) == (
            status,
            version,
        )
        first_or_repeat = recorded is None or repeat
        self._attempt(
            lambda t, now: t.record_ilr_outcome(status, "why", now, ilr_version=version),
            legal_from=frozenset({"processed"}) if first_or_repeat else frozenset(),
            changes_nothing=repeat,
        )

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def state_is_known_and_consistent(self) -> None:
        tracker = self.tracker
        assert tracker.status in STATES
        assert (tracker.status == "allocated") <= (tracker.allocated_to is not None)
        assert (tracker.decided_by is not None) == tracker.is_terminal
        assert tracker.ilr_outcome is None or tracker.status == "processed"

    @invariant()
    def history_matches_versions(self) -> None:
        history = self.tracker.history
        assert self.tracker.version == len(history)
        assert [entry.version for entry in history] == list(range(1, len(history) + 1))
        assert all(a.at <= b.at for a, b in pairwise(history))
        assert history[0].action == "raised"

    @invariant()
    def terminal_states_stay_terminal(self) -> None:
        if self.terminal_status is not None:
            assert self.tracker.status == self.terminal_status
        elif self.tracker.is_terminal:
            self.terminal_status = self.tracker.status

    @invariant()
    def storage_form_round_trips(self) -> None:
        assert Tracker.from_document(self.tracker.to_document()) == self.tracker

    # --- helpers ---------------------------------------------------------------------------

    def _version(self, stale: bool, *, required: bool = False) -> int | None:
        if stale:
            return self.tracker.version - 1
        return self.tracker.version if required or self.clock % 2 else None

    def _attempt(
        self,
        command: Callable[[Tracker, object], object],
        *,
        legal_from: frozenset[str] = OPEN_STATES,
        changes_nothing: bool = False,
    ) -> None:
        """Run a command; check a refusal left no trace and a success left exactly one."""
        self.clock += 1
        before = self.tracker.model_copy(deep=True)
        legal = before.status in legal_from
        refusal: Exception | None = None
        try:
            command(self.tracker, minutes(self.clock))
        except REFUSALS as error:
            refusal = error
        if refusal is not None:
            assert self.tracker == before, f"{type(refusal).__name__} changed the tracker"
            assert isinstance(refusal, IllegalTransition) == (not legal), repr(refusal)
            return
        assert legal, f"succeeded from {before.status}"
        grown = 0 if changes_nothing else 1
        assert len(self.tracker.history) == len(before.history) + grown
        assert self.tracker.version == before.version + grown


TrackerMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
test_tracker_state_machine = TrackerMachine.TestCase
