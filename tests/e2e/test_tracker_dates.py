"""Issue #13 end to end: a tracker's dates are checked against the learner's current ILR (through
the ilr-state projection), not the enrolment's planned end date, and a tracker ending learning is
processed only from its last day of learning (LearnActEndDate_04).

Dates are relative to today: the stack's services run on the real clock."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from workload import ENROLMENT, LEARNER, tracker_probe

from tests.conftest import Stack, eventually
from tests.e2e.helpers import Tenant
from tests.e2e.test_tracker_steps import ilr_outcome, problems, process, tracker_tenant

pytestmark = pytest.mark.e2e

TODAY = date.today()
START = TODAY - timedelta(days=400)
ENROLLED_END = TODAY - timedelta(days=30)  # passed: the learner is a late completer
LAST_DAY_BEFORE_BREAK = START + timedelta(days=100)
RETURNED = START + timedelta(days=160)


def late_learner(tenant: Tenant) -> str:
    """Enrolled 400 days ago with a planned end date 30 days ago; known to the tracker service."""
    enrolment = {
        **ENROLMENT,
        "start_date": START.isoformat(),
        "planned_end_date": ENROLLED_END.isoformat(),
    }
    with tenant.admin("learner") as http:
        created = http.post("/v1/learners", json=LEARNER)
        assert created.status_code == 201, created.text
        learner_id: str = created.json()["id"]
        enrolled = http.post(f"/v1/learners/{learner_id}/enrolments", json=enrolment)
        assert enrolled.status_code == 201, enrolled.text
    with tenant.admin("tracker") as http:
        eventually(
            lambda: http.post("/v1/trackers", json=tracker_probe(learner_id)).status_code == 422
        )
    return learner_id


def attempt(http: httpx.Client, tracker_type: str, learner_id: str, changes: Any) -> httpx.Response:
    return http.post(
        "/v1/trackers", json={"type": tracker_type, "learner_id": learner_id, "changes": changes}
    )


def raised_once_the_ilr_allows(
    http: httpx.Client, tracker_type: str, learner_id: str, changes: Any
) -> Any:
    """Raise once the tracker's ILR projection shows what the change needs (a refusal stores
    nothing, so retrying is harmless)."""

    def raised() -> Any:
        response = attempt(http, tracker_type, learner_id, changes)
        return response.json() if response.status_code == 201 else None

    return eventually(raised)


def test_dates_follow_the_ilr_and_learning_ends_in_the_ilr_from_its_last_day(
    stack: Stack,
) -> None:
    tenant = tracker_tenant(stack)
    learner_id = late_learner(tenant)
    with tenant.admin("tracker") as admin:
        on_break = raised_once_the_ilr_allows(
            admin,
            "break_in_learning",
            learner_id,
            {
                "last_day_of_learning": LAST_DAY_BEFORE_BREAK.isoformat(),
                "expected_return_date": RETURNED.isoformat(),
                "reason": "illness",
            },
        )
        process(admin, on_break["id"])
        assert ilr_outcome(admin, on_break["id"])["status"] == "applied"
        back = raised_once_the_ilr_allows(
            admin, "return_to_learning", learner_id, {"return_date": RETURNED.isoformat()}
        )
        process(admin, back["id"])
        assert ilr_outcome(admin, back["id"])["status"] == "applied"

        # The ILR's restarted aim now dates the learning: ending it before the return is refused.
        before_return = {"last_day_of_learning": (RETURNED - timedelta(days=1)).isoformat()}
        eventually(
            lambda: (
                problems(
                    attempt(admin, "withdrawal", learner_id, {**before_return, "reason": "44"})
                ).get("changes.last_day_of_learning")
                == f"is before the learner returned ({RETURNED.isoformat()})"
            )
        )

        # A break agreed for a day still to come: raised now, processed from that day on.
        ahead = attempt(
            admin,
            "break_in_learning",
            learner_id,
            {
                "last_day_of_learning": (TODAY + timedelta(days=14)).isoformat(),
                "expected_return_date": (TODAY + timedelta(days=60)).isoformat(),
                "reason": "planned surgery",
            },
        )
        assert ahead.status_code == 201, ahead.text
        too_early = admin.post(f"/v1/trackers/{ahead.json()['id']}/process")
        assert too_early.json()["code"] == "last_day_not_reached"
        assert "LearnActEndDate_04" in problems(too_early)["changes.last_day_of_learning"]
        cancelled = admin.post(f"/v1/trackers/{ahead.json()['id']}/cancel", json={})
        assert cancelled.status_code == 200, cancelled.text

        # Leaving a week ago, after the planned end date the learner enrolled with.
        last_week = {"last_day_of_learning": (TODAY - timedelta(days=7)).isoformat()}
        withdrawal = attempt(admin, "withdrawal", learner_id, {**last_week, "reason": "44"})
        assert withdrawal.status_code == 201, withdrawal.text
        process(admin, withdrawal.json()["id"])
        assert ilr_outcome(admin, withdrawal.json()["id"])["status"] == "applied"
