"""Permission checks, group scoping, two-person control, QA lock, allocation."""

from __future__ import annotations

import pytest
from tracker_builders import ADMIN, LEARNER, OTHER_ADMIN, QA_ADMIN, TUTOR, raise_tracker

from ilrflow.contracts.events import StaffUpdated
from ilrflow.tracker.domain import (
    Actor,
    AllocationRule,
    Refused,
    TenantTrackerSettings,
    TypeSettings,
    allocate,
    candidate_processors,
    check_qa_lock,
    may_allocate,
    may_be_allocated,
    may_cancel,
    may_edit,
    may_process,
    may_raise,
    may_reject,
    may_see_learner,
    may_see_tracker,
)

ALL_ON = TenantTrackerSettings(
    types={
        name: TypeSettings(enabled=True)
        for name in ("change_of_address", "withdrawal", "return_to_learning", "change_of_name")
    }
)
SCOPED = ALL_ON.model_copy(update={"admins_see_all_groups": False})
OUTSIDER_TUTOR = Actor("tutor-9", frozenset({"tutor"}), frozenset({"group-z"}))
ANOTHER_LEARNER = Actor("learner-2", frozenset({"learner"}))


def test_a_learner_raises_learner_led_types_for_themselves_only() -> None:
    assert may_raise(ALL_ON, LEARNER, "change_of_address", "group-a", False)
    other = may_raise(ALL_ON, ANOTHER_LEARNER, "change_of_address", "g", False, learner_id="x")
    assert other.code == "not_visible"
    staff_led = may_raise(ALL_ON, LEARNER, "withdrawal", "group-a", False)
    assert staff_led.code == "forbidden"
    assert "tutor" in staff_led.reason


def test_staff_raise_learner_led_types_on_the_learners_behalf() -> None:
    assert may_raise(ALL_ON, TUTOR, "change_of_name", "group-a", True, learner_id="learner-1")
    refused = may_raise(ALL_ON, LEARNER, "change_of_name", "group-a", True)
    assert refused.code == "forbidden"
    assert "on a learner's behalf" in refused.reason


def test_a_tenant_can_keep_learner_led_types_for_learners_only() -> None:
    settings = ALL_ON.with_type_settings(
        "change_of_name", TypeSettings(enabled=True, raise_roles=["learner"])
    )
    refused = may_raise(settings, TUTOR, "change_of_name", "group-a", True, learner_id="l")
    assert refused.code == "forbidden"


def test_disabled_and_unknown_types_cannot_be_raised() -> None:
    disabled = may_raise(ALL_ON, TUTOR, "change_of_employer", "group-a", False, learner_id="l")
    assert (disabled.code, disabled.allowed) == ("type_disabled", False)
    assert "change_of_employer is not enabled" in disabled.reason
    assert may_raise(ALL_ON, TUTOR, "nope", "group-a", False, learner_id="l").code == "unknown_type"


def test_staff_act_only_on_learners_in_their_groups() -> None:
    refused = may_raise(ALL_ON, OUTSIDER_TUTOR, "withdrawal", "group-a", False, learner_id="l")
    assert refused.code == "not_visible"
    assert may_raise(ALL_ON, TUTOR, "withdrawal", "group-a", False, learner_id="l")
    assert not may_see_learner(ALL_ON, TUTOR, "l", None), "no group: only see-all admins"


def test_admins_see_every_group_unless_the_tenant_scopes_them() -> None:
    assert may_see_learner(ALL_ON, OTHER_ADMIN, "l", "group-a")
    assert may_see_learner(SCOPED, OTHER_ADMIN, "l", "group-a").code == "not_visible"
    assert may_see_learner(SCOPED, ADMIN, "l", "group-a")


def test_the_raiser_can_always_see_their_tracker() -> None:
    tracker = raise_tracker()
    assert may_see_tracker(SCOPED, LEARNER, tracker)
    assert not may_see_tracker(SCOPED, ANOTHER_LEARNER, tracker)


@pytest.mark.parametrize("role", ["support", "operator", "ilr_qa"])
def test_support_operators_and_qa_read_every_tracker_but_act_only_in_their_groups(
    role: str,
) -> None:
    outsider = Actor(f"{role}-9", frozenset({role}), frozenset({"group-z"}))
    tracker = raise_tracker()
    can_process = ALL_ON.with_type_settings(
        "change_of_address", TypeSettings(enabled=True, process_roles=[role])
    )

    assert may_see_tracker(SCOPED, outsider, tracker)
    refused = may_process(can_process, outsider, tracker)
    assert refused.code == "forbidden", "not 404: they can read it"
    assert "not in any of your groups" in refused.reason
    assert not may_see_tracker(SCOPED, OUTSIDER_TUTOR, tracker)
    raising = may_raise(can_process, outsider, "withdrawal", "group-a", False, learner_id="l")
    assert raising.code == "forbidden"


def test_edit_and_process_follow_the_roles_for_the_type() -> None:
    tracker = raise_tracker()
    assert may_edit(ALL_ON, ADMIN, tracker)
    assert may_process(ALL_ON, ADMIN, tracker)
    assert may_reject(ALL_ON, ADMIN, tracker)
    assert may_edit(ALL_ON, TUTOR, tracker).code == "forbidden"
    assert may_process(ALL_ON, TUTOR, tracker).code == "forbidden"
    tutors_process = ALL_ON.with_type_settings(
        "change_of_address", TypeSettings(enabled=True, process_roles=["tutor"])
    )
    assert may_process(tutors_process, TUTOR, tracker)
    assert not may_process(tutors_process, ADMIN, tracker)


def test_two_person_control_stops_the_raiser_processing_but_not_rejecting() -> None:
    tracker = raise_tracker(
        "withdrawal", {"last_day_of_learning": "2025-01-31", "reason": "44"}, actor=ADMIN
    )
    assert may_process(ALL_ON, ADMIN, tracker)
    strict = ALL_ON.model_copy(update={"two_person_control": True})
    refused = may_process(strict, ADMIN, tracker)
    assert refused.code == "two_person_control"
    assert may_process(strict, OTHER_ADMIN, tracker)
    assert may_reject(strict, ADMIN, tracker)


def test_cancel_by_the_raiser_or_an_admin() -> None:
    tracker = raise_tracker()
    assert may_cancel(ALL_ON, LEARNER, tracker)
    assert may_cancel(ALL_ON, ADMIN, tracker)
    assert may_cancel(ALL_ON, TUTOR, tracker).code == "forbidden"
    assert may_cancel(SCOPED, OTHER_ADMIN, tracker).code == "not_visible"


def test_allocation_by_admins_or_processors() -> None:
    tracker = raise_tracker()
    assert may_allocate(ALL_ON, ADMIN, tracker)
    assert may_allocate(ALL_ON, TUTOR, tracker).code == "forbidden"
    assert may_allocate(ALL_ON, LEARNER, tracker).code == "forbidden"


def test_qa_verified_ilr_needs_the_ilr_qa_role_for_programme_changes() -> None:
    refused = check_qa_lock(ALL_ON, "withdrawal", ADMIN, ilr_qa_verified=True, changes={})
    assert refused.code == "qa_locked"
    assert "ilr_qa" in refused.reason
    assert check_qa_lock(ALL_ON, "withdrawal", QA_ADMIN, ilr_qa_verified=True, changes={})
    assert check_qa_lock(ALL_ON, "withdrawal", ADMIN, ilr_qa_verified=False, changes={})
    assert check_qa_lock(ALL_ON, "change_of_address", ADMIN, ilr_qa_verified=True, changes={})


def test_qa_verified_ilr_needs_the_ilr_qa_role_for_corrections_of_ilr_fields() -> None:
    uln = {"uln": "9276308686", "reason": "typo"}
    group = {"group": "group-b", "primary_tutor_id": "tutor-2", "reason": "moved"}
    assert check_qa_lock(ALL_ON, "correction", ADMIN, True, changes=uln).code == "qa_locked"
    assert check_qa_lock(ALL_ON, "correction", QA_ADMIN, True, changes=uln)
    assert check_qa_lock(ALL_ON, "correction", ADMIN, True, changes=group)


def test_raise_if_refused_carries_code_and_reason() -> None:
    decision = check_qa_lock(ALL_ON, "withdrawal", ADMIN, ilr_qa_verified=True, changes={})
    with pytest.raises(Refused) as caught:
        decision.raise_if_refused()
    assert (caught.value.code, caught.value.reason) == ("qa_locked", decision.reason)


def test_allocation_rules_pick_the_first_matching_group_and_type() -> None:
    settings = ALL_ON.model_copy(
        update={
            "allocation_rules": [
                AllocationRule(
                    learner_group="group-a", admin_id="qa", tracker_types=["withdrawal"]
                ),
                AllocationRule(learner_group="group-a", admin_id="admin-1"),
            ]
        }
    )
    assert allocate(settings, "group-a", "withdrawal") == "qa"
    assert allocate(settings, "group-a", "change_of_name") == "admin-1"
    assert allocate(settings, "group-a") == "qa"
    assert allocate(settings, "group-b") is None
    assert allocate(settings, None) is None


def test_candidate_processors_respect_roles_groups_two_person_and_qa() -> None:
    directory = [
        StaffUpdated(id="admin-1", name="A", email="a@x.uk", roles=["admin"], groups=["group-a"]),
        StaffUpdated(id="admin-2", name="B", email="b@x.uk", roles=["admin"], groups=[]),
        StaffUpdated(id="qa-1", name="C", email="c@x.uk", roles=["admin", "ilr_qa"], groups=[]),
        StaffUpdated(id="tutor-1", name="D", email="d@x.uk", roles=["tutor"], groups=["group-a"]),
    ]
    assert candidate_processors(ALL_ON, directory, "withdrawal", "group-a", changes={}) == [
        "admin-1",
        "admin-2",
        "qa-1",
    ]
    assert candidate_processors(SCOPED, directory, "withdrawal", "group-a", changes={}) == [
        "admin-1"
    ]
    strict = ALL_ON.model_copy(update={"two_person_control": True})
    assert "admin-1" not in candidate_processors(
        strict, directory, "withdrawal", "group-a", changes={}, raised_by="admin-1"
    )
    assert candidate_processors(
        ALL_ON, directory, "withdrawal", "group-a", changes={}, ilr_qa_verified=True
    ) == ["qa-1"]


def test_may_be_allocated_checks_the_target_like_a_processor() -> None:
    tracker = raise_tracker(
        "withdrawal", {"last_day_of_learning": "2025-01-31", "reason": "44"}, actor=TUTOR
    )
    assert may_be_allocated(ALL_ON, OTHER_ADMIN, tracker)
    assert may_be_allocated(ALL_ON, TUTOR, tracker).code == "forbidden"
    assert may_be_allocated(ALL_ON, OTHER_ADMIN, tracker, ilr_qa_verified=True).code == "qa_locked"
