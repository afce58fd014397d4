"""Who may do what to which tracker, on the real stack: the permission matrix, group scoping,
the QA-verified ILR lock, two-person control, tenant isolation, versions and transitions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Stack, eventually
from tests.e2e.helpers import GROUP, Tenant, known_learner
from tests.e2e.test_tracker_steps import (
    OTHER_GROUP,
    ilr_outcome,
    process,
    raise_tracker,
    tracker_tenant,
)

pytestmark = pytest.mark.e2e

ADDRESS = {"address": {"lines": ["5 New Road"], "postcode": "LS6 2AB"}}
BREAK = {
    "last_day_of_learning": "2025-12-31",
    "expected_return_date": "2026-03-02",
    "reason": "illness",
}
WITHDRAWAL = {"last_day_of_learning": "2026-01-30", "reason": "44"}

# (who, roles, groups); "learner" is the learner themselves.
ACTORS: dict[str, tuple[tuple[str, ...], list[str]]] = {
    "learner": (("learner",), []),
    "tutor in group": (("tutor",), [GROUP]),
    "tutor out of group": (("tutor",), [OTHER_GROUP]),
    "admin": (("admin",), [GROUP]),
    "ilr_qa": (("ilr_qa",), [GROUP]),
    "support": (("support",), [GROUP]),
}
# Expected status per actor for: raise a learner-led type, raise a staff-led type, edit, process.
MATRIX: dict[str, dict[str, int]] = {
    "learner": {"raise address": 201, "raise break": 403, "edit": 403, "process": 403},
    "tutor in group": {"raise address": 201, "raise break": 201, "edit": 403, "process": 403},
    "tutor out of group": {"raise address": 404, "raise break": 404, "edit": 404, "process": 404},
    "admin": {"raise address": 201, "raise break": 201, "edit": 200, "process": 200},
    "ilr_qa": {"raise address": 403, "raise break": 403, "edit": 403, "process": 403},
    "support": {"raise address": 403, "raise break": 403, "edit": 403, "process": 403},
}


def _client(tenant: Tenant, who: str, learner_id: str) -> httpx.Client:
    roles, groups = ACTORS[who]
    sub = learner_id if who == "learner" else who.replace(" ", "-")
    return tenant.as_("tracker", sub, *roles, groups=groups)


def _attempt(http: httpx.Client, learner_id: str, action: str, tracker: Any) -> int:
    if action == "raise address":
        body = {"type": "change_of_address", "learner_id": learner_id, "changes": ADDRESS}
        return http.post("/v1/trackers", json=body).status_code
    if action == "raise break":
        body = {"type": "break_in_learning", "learner_id": learner_id, "changes": BREAK}
        return http.post("/v1/trackers", json=body).status_code
    if action == "edit":
        body = {"version": tracker["version"], "note": "checked"}
        return http.patch(f"/v1/trackers/{tracker['id']}", json=body).status_code
    return http.post(f"/v1/trackers/{tracker['id']}/process").status_code


def test_the_permission_matrix(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    outcomes: dict[str, dict[str, int]] = {}
    with tenant.admin("tracker") as admin:
        for who in MATRIX:
            # A fresh tracker per actor, so one actor's success cannot change another's answer.
            tracker = raise_tracker(admin, "change_of_address", learner_id, ADDRESS)
            with _client(tenant, who, learner_id) as http:
                outcomes[who] = {
                    action: _attempt(http, learner_id, action, tracker) for action in MATRIX[who]
                }
    assert outcomes == MATRIX

    # The tenant decides: tutors may process breaks here, learners may not raise addresses.
    with tenant.admin("tracker") as admin:
        roles = {"enabled": True, "process_roles": ["tutor", "admin"]}
        assert admin.put("/v1/tracker-types/break_in_learning", json=roles).status_code == 200
        staff_only = {"enabled": True, "raise_roles": ["tutor", "admin"]}
        assert admin.put("/v1/tracker-types/change_of_address", json=staff_only).status_code == 200
        on_break = raise_tracker(admin, "break_in_learning", learner_id, BREAK)
    with _client(tenant, "tutor in group", learner_id) as tutor:
        assert _attempt(tutor, learner_id, "process", on_break) == 200
    with _client(tenant, "learner", learner_id) as learner:
        assert _attempt(learner, learner_id, "raise address", None) == 403


def test_types_are_off_until_the_tenant_enables_them(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    with tenant.admin("tracker") as admin:
        assert admin.put("/v1/tracker-types/withdrawal", json={"enabled": False}).status_code == 200
        body = {"type": "withdrawal", "learner_id": learner_id, "changes": WITHDRAWAL}
        refused = admin.post("/v1/trackers", json=body)
        assert (refused.status_code, refused.json()["code"]) == (403, "type_disabled")
        types = {t["type"]: t["enabled"] for t in admin.get("/v1/tracker-types").json()["items"]}
        assert types["withdrawal"] is False
        assert types["change_of_name"] is True
    with tenant.as_("tracker", "tutor-1", "tutor", groups=[GROUP]) as tutor:
        assert tutor.put("/v1/tracker-types/withdrawal", json={"enabled": True}).status_code == 403
        assert tutor.put("/v1/tracker-settings", json={}).status_code == 403


def test_staff_see_only_learners_in_their_groups(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    ours = known_learner(tenant)
    theirs = known_learner(tenant, group=OTHER_GROUP, uln="1000000019")
    with tenant.admin("tracker") as admin:
        in_ours = raise_tracker(admin, "change_of_address", ours, ADDRESS)
        in_theirs = raise_tracker(admin, "change_of_address", theirs, ADDRESS)
    with (
        tenant.as_("tracker", "tutor-1", "tutor", groups=[GROUP]) as tutor_a,
        tenant.as_("tracker", "tutor-2", "tutor", groups=[OTHER_GROUP]) as tutor_b,
    ):
        assert _ids(tutor_a.get("/v1/trackers")) == [in_ours["id"]]
        assert _ids(tutor_b.get("/v1/trackers")) == [in_theirs["id"]]
        assert tutor_a.get(f"/v1/trackers/{in_theirs['id']}").status_code == 404
        assert _ids(tutor_a.get("/v1/trackers", params={"group": OTHER_GROUP})) == []
    with tenant.admin("tracker") as admin:
        scoped = {"admins_see_all_groups": False}
        assert admin.put("/v1/tracker-settings", json=scoped).status_code == 200
    # admin-1 raised both, and a raiser always sees their own; admin-2 is scoped to cohort-a.
    with tenant.as_("tracker", "admin-2", "admin", groups=[GROUP]) as scoped_admin:
        assert scoped_admin.get(f"/v1/trackers/{in_theirs['id']}").status_code == 404
        assert _ids(scoped_admin.get("/v1/trackers")) == [in_ours["id"]]


def test_a_qa_verified_ilr_needs_ilr_qa_for_programme_changes(stack: Stack) -> None:
    tenant = tracker_tenant(stack, allocate_to=None)
    learner_id = known_learner(tenant)
    with tenant.admin("tracker") as admin:
        withdrawal = raise_tracker(admin, "withdrawal", learner_id, WITHDRAWAL)
        address = raise_tracker(admin, "change_of_address", learner_id, ADDRESS)
    with tenant.as_("ilr", "verifier-1", "ilr_qa") as verifier:
        verified = verifier.post(f"/v1/learners/{learner_id}/ilr/qa-verify")
        assert verified.status_code == 200, verified.text
        assert verified.json()["qa_verified"] is True

    with tenant.admin("tracker") as admin:
        # The tracker service learns of it from ilr-state: allocation to a processor without
        # ilr_qa is then refused (it succeeds until the projection has caught up).
        def allocation_refused() -> bool:
            answer = admin.post(
                f"/v1/trackers/{withdrawal['id']}/allocate", json={"allocated_to": "admin-2"}
            )
            return answer.status_code == 422

        eventually(allocation_refused)
        before = admin.get(f"/v1/trackers/{withdrawal['id']}").json()
        locked = admin.post(f"/v1/trackers/{withdrawal['id']}/process")
        assert (locked.status_code, locked.json()["code"]) == (403, "qa_locked")
        unchanged = admin.get(f"/v1/trackers/{withdrawal['id']}").json()
        assert (unchanged["status"], unchanged["version"]) == (before["status"], before["version"])
        assert unchanged["status"] in ("raised", "allocated")
        # A change of address is not a programme change: any processor may still do it.
        process(admin, address["id"])
    with tenant.as_("tracker", "qa-1", "admin", "ilr_qa", groups=[GROUP]) as qa:
        process(qa, withdrawal["id"])
        assert ilr_outcome(qa, withdrawal["id"])["status"] == "applied"


def test_two_person_control(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    with tenant.admin("tracker") as admin:
        assert (
            admin.put("/v1/tracker-settings", json={"two_person_control": True}).status_code == 200
        )
        mine = raise_tracker(admin, "break_in_learning", learner_id, BREAK)
        refused = admin.post(f"/v1/trackers/{mine['id']}/process")
        assert (refused.status_code, refused.json()["code"]) == (
            403,
            "two_person_control",
        )
    with tenant.as_("tracker", "admin-2", "admin", groups=[GROUP]) as second:
        processed = process(second, mine["id"])
    assert (processed["raised_by"], processed["decided_by"]) == ("admin-1", "admin-2")


def test_a_token_of_one_tenant_never_reaches_another(stack: Stack) -> None:
    tenant_a = tracker_tenant(stack)
    tenant_b = tracker_tenant(stack)
    learner_id = known_learner(tenant_a)
    with tenant_a.admin("tracker") as admin_a:
        tracker = raise_tracker(admin_a, "change_of_address", learner_id, ADDRESS)
    path = f"/v1/trackers/{tracker['id']}"
    attempts: list[Callable[[httpx.Client], httpx.Response]] = [
        lambda http: http.get(path),
        lambda http: http.patch(path, json={"version": 1, "note": "x"}),
        lambda http: http.post(f"{path}/allocate", json={"allocated_to": "admin-1"}),
        lambda http: http.post(f"{path}/process"),
        lambda http: http.post(f"{path}/reject", json={"reason": "x"}),
        lambda http: http.post(f"{path}/cancel"),
        lambda http: http.post(
            "/v1/trackers",
            json={"type": "change_of_address", "learner_id": learner_id, "changes": ADDRESS},
        ),
    ]
    with tenant_b.admin("tracker") as admin_b:
        assert [attempt(admin_b).status_code for attempt in attempts] == [404] * len(attempts)
        assert _ids(admin_b.get("/v1/trackers")) == []
    with tenant_a.admin("tracker") as admin_a:
        untouched = admin_a.get(path).json()
        assert (untouched["status"], untouched["version"]) == ("allocated", 1)


def test_edits_are_versioned_with_history_and_transitions_are_checked(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    with tenant.admin("tracker") as admin:
        tracker = raise_tracker(admin, "change_of_address", learner_id, ADDRESS)
        path = f"/v1/trackers/{tracker['id']}"
        assert admin.get(path).headers["etag"] == '"1"'
        new_address = {"address": {"lines": ["7 Other Road"], "postcode": "LS7 1AA"}}
        edited = admin.patch(path, json={"changes": new_address}, headers={"If-Match": '"1"'})
        assert edited.status_code == 200, edited.text
        assert edited.json()["version"] == 2
        entry = edited.json()["history"][-1]
        assert (entry["action"], entry["actor"], entry["version"]) == ("edited", "admin-1", 2)
        assert entry["at"]
        assert entry["details"]["before"]["address"]["postcode"] == "LS6 2AB"
        assert entry["details"]["after"]["address"]["postcode"] == "LS7 1AA"

        for stale in (
            admin.patch(path, json={"version": 1, "note": "late"}),
            admin.patch(path, json={"note": "late"}, headers={"If-Match": '"1"'}),
            admin.post(f"{path}/process", json={"version": 1}),
        ):
            assert stale.status_code == 409, stale.text
            assert stale.json()["current_version"] == 2
        assert admin.patch(path, json={"note": "no version"}).status_code == 428
        bad = admin.patch(
            path, json={"version": 2, "changes": {"address": {"lines": [], "postcode": "LS7 1AA"}}}
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "changes.address.lines"

        process(admin, tracker["id"])
        for illegal in (
            admin.post(f"{path}/process"),
            admin.post(f"{path}/reject", json={"reason": "too late"}),
            admin.post(f"{path}/cancel"),
            admin.patch(path, json={"version": 3, "note": "too late"}),
        ):
            assert illegal.status_code == 409, illegal.text
            assert illegal.json()["current_state"] == "processed"
        assert admin.get(path).json()["changes"] == new_address | {
            "address": {"lines": ["7 Other Road"], "postcode": "LS7 1AA"}
        }


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["items"]]
