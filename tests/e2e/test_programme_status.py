"""Issue #14 item 1, end to end: the learner record carries the programme status its ILR gives,
kept current from ``ilr-state`` as trackers are processed (break -> on_break, return -> active,
a withdrawal within 42 days in learning -> withdrawn as a non-starter), and the learner list
filters on it and is walked page by page with a cursor."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Stack, eventually
from tests.e2e.helpers import Tenant, every_learner
from tests.e2e.test_ilr_trackers import change, enrol, tenant_ready_for_every_type

pytestmark = pytest.mark.e2e

# The programme starts on 2025-09-01 (ENROLMENT): 12 days in learning, a break, 15 more days.
BREAK = {
    "last_day_of_learning": "2025-09-12",
    "expected_return_date": "2025-10-06",
    "reason": "illness",
}
RETURN = {"return_date": "2025-10-06"}
WITHDRAWAL_AFTER_RETURN = {"last_day_of_learning": "2025-10-20", "reason": "44"}
EARLY_WITHDRAWAL = {"last_day_of_learning": "2025-10-03", "reason": "44"}  # 33 days in learning
LATE_WITHDRAWAL = {"last_day_of_learning": "2026-03-31", "reason": "44"}


@pytest.fixture(scope="module")
def tenant(stack: Stack) -> Tenant:
    return tenant_ready_for_every_type(stack)


def status_of(tenant: Tenant, learner_id: str) -> tuple[Any, Any, Any]:
    with tenant.admin("learner") as http:
        learner = http.get(f"/v1/learners/{learner_id}").json()
    return learner["programme_status"], learner["withdrawal_kind"], learner["status_since"]


def becomes(tenant: Tenant, learner_id: str, *expected: Any) -> None:
    def reached() -> bool:
        assert status_of(tenant, learner_id) == expected
        return True

    eventually(reached)


def applied(tenant: Tenant, learner_id: str, tracker_type: str, changes: dict[str, Any]) -> None:
    outcome, _ = change(tenant, learner_id, tracker_type, changes)
    assert outcome["status"] == "applied", (tracker_type, outcome)


def test_the_status_follows_break_return_and_an_early_withdrawal(tenant: Tenant) -> None:
    learner_id = enrol(tenant)
    becomes(tenant, learner_id, "active", None, "2025-09-01")

    applied(tenant, learner_id, "break_in_learning", BREAK)
    becomes(tenant, learner_id, "on_break", None, "2025-09-12")

    applied(tenant, learner_id, "return_to_learning", RETURN)
    becomes(tenant, learner_id, "active", None, "2025-10-06")

    applied(tenant, learner_id, "withdrawal", WITHDRAWAL_AFTER_RETURN)
    becomes(tenant, learner_id, "withdrawn", "non_starter", "2025-10-20")


def test_the_list_filters_by_status_and_is_paged(tenant: Tenant) -> None:
    non_starter, early_leaver, active = enrol(tenant), enrol(tenant), enrol(tenant)
    applied(tenant, non_starter, "withdrawal", EARLY_WITHDRAWAL)
    applied(tenant, early_leaver, "withdrawal", LATE_WITHDRAWAL)
    becomes(tenant, non_starter, "withdrawn", "non_starter", "2025-10-03")
    becomes(tenant, early_leaver, "withdrawn", "early_leaver", "2026-03-31")
    becomes(tenant, active, "active", None, "2025-09-01")

    with tenant.admin("learner") as http:
        withdrawn = {x["id"] for x in every_learner(http, programme_status="withdrawn")}
        non_starters = {x["id"] for x in every_learner(http, withdrawal_kind="non_starter")}
        comma = {x["id"] for x in every_learner(http, programme_status="active,on_break")}
        repeated = {x["id"] for x in every_learner(http, programme_status=["active", "on_break"])}
        one_by_one = [x["id"] for x in every_learner(http, limit=1)]
        everyone = [x["id"] for x in every_learner(http)]
        unknown = http.get("/v1/learners", params={"programme_status": "finished"})
        bad_cursor = http.get("/v1/learners", params={"cursor": "not-ours"})

    assert withdrawn & {non_starter, early_leaver, active} == {non_starter, early_leaver}
    assert non_starters & {non_starter, early_leaver, active} == {non_starter}
    assert comma & {non_starter, early_leaver, active} == {active}
    assert repeated == comma
    assert one_by_one == everyone == sorted(everyone)
    assert {non_starter, early_leaver, active} <= set(everyone)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "programme_status"
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["code"] == "bad_cursor"
