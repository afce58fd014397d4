"""The one reading rule, role by role (the security matrix checks it on the five services)."""

from __future__ import annotations

import pytest

from ilrflow.contracts.visibility import (
    in_scope,
    may_read_audit,
    may_read_learner,
    may_read_tracker,
    visible_groups,
)

GROUP_A = ["group-a"]


@pytest.mark.parametrize(
    ("roles", "groups", "reads_other_group"),
    [
        (["tutor"], GROUP_A, False),
        (["admin"], GROUP_A, True),
        (["support"], [], True),
        (["operator"], [], True),
        (["ilr_qa"], [], True),
    ],
)
def test_staff_read_their_groups_or_the_whole_tenant(
    roles: list[str], groups: list[str], reads_other_group: bool
) -> None:
    assert may_read_learner("s1", roles, groups, "L1", "group-b") is reads_other_group
    assert may_read_learner("s1", roles, ["group-b"], "L1", "group-b")


def test_a_learner_reads_only_themselves() -> None:
    assert may_read_learner("L1", ["learner"], [], "L1", "group-a")
    assert not may_read_learner("L1", ["learner"], GROUP_A, "L2", "group-a")


def test_a_tenant_can_narrow_admins_to_their_groups() -> None:
    assert not may_read_learner(
        "a1", ["admin"], GROUP_A, "L1", "group-b", admins_see_all_groups=False
    )
    assert may_read_learner("a1", ["admin"], GROUP_A, "L1", "group-a", admins_see_all_groups=False)
    assert visible_groups(["admin"], GROUP_A, admins_see_all_groups=False) == frozenset(GROUP_A)
    assert visible_groups(["admin"], GROUP_A) is None


def test_whoever_raised_a_tracker_reads_it() -> None:
    assert may_read_tracker("t1", ["tutor"], [], "L1", "group-b", raised_by="t1")
    assert not may_read_tracker("t2", ["tutor"], [], "L1", "group-b", raised_by="t1")


def test_reading_is_wider_than_acting() -> None:
    assert may_read_learner("s1", ["support"], [], "L1", "group-b")
    assert not in_scope("s1", ["support"], [], "L1", "group-b")
    assert in_scope("s1", ["support"], ["group-b"], "L1", "group-b")


def test_the_audit_log_is_read_by_support_admins_and_operators() -> None:
    assert [
        r
        for r in ("learner", "tutor", "admin", "ilr_qa", "support", "operator")
        if may_read_audit([r])
    ] == [
        "admin",
        "support",
        "operator",
    ]
