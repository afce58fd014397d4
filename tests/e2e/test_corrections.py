"""Issue #14, corrections end to end: a corrected ULN changes the ILR (and it stays valid); a
learner moved to another group with a new primary tutor is seen by that group's tutors in every
service (learner, trackers old and new, ILR) and no longer by the old group's, and the new tutor
is the one told when the next tracker is processed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Stack, eventually
from tests.e2e.helpers import (
    GROUP,
    LEARNER,
    Tenant,
    configure_trackers,
    known_learner,
    tenant_with_staff,
)

pytestmark = pytest.mark.e2e

NEW_GROUP = "cohort-b"
NEW_TUTOR = {
    "id": "tutor-2",
    "name": "Tess Tutor",
    "email": "tess@example.org",
    "roles": ["tutor"],
    "groups": [NEW_GROUP],
}
CORRECT_ULN = {"uln": "1000000043", "reason": "ULN typed wrongly at sign-up"}
MOVE = {"group": NEW_GROUP, "primary_tutor_id": "tutor-2", "reason": "Moved to the May cohort"}
ADDRESS = {"address": {"lines": ["22 Mill Lane", "Bradford"], "postcode": "BD1 1AA"}}


def test_a_corrected_uln_and_a_move_to_another_group_and_tutor(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    with tenant.admin("learner") as http:
        assert http.post("/v1/staff", json=NEW_TUTOR).status_code == 201
    configure_trackers(tenant)
    learner_id = known_learner(tenant)
    old_tutor = {s: tenant.as_(s, "tutor-1", "tutor", groups=[GROUP]) for s in SERVICES}
    new_tutor = {s: tenant.as_(s, "tutor-2", "tutor", groups=[NEW_GROUP]) for s in SERVICES}

    uln = raise_and_process(tenant, learner_id, "correction", CORRECT_ULN)
    assert uln["preview"]["corrected_ilr_fields"]["value"] == {
        "ULN": {"before": int(LEARNER["uln"]), "after": 1000000043}  # type: ignore[call-overload]
    }
    assert uln["preview"]["ilr_validation"]["new_errors"] == []
    outcome = ilr_outcome(tenant, uln["id"])
    assert outcome["status"] == "applied", outcome
    assert outcome["patch"] == [{"op": "replace", "path": "/ULN", "value": 1000000043}]
    with tenant.admin("ilr") as ilr:
        assert ilr.get(f"/v1/learners/{learner_id}/ilr").json()["learner"]["ULN"] == 1000000043
        validation = ilr.get(f"/v1/learners/{learner_id}/ilr/validation").json()
        assert (validation["valid"], validation["errors"]) == (True, []), validation
    with tenant.admin("learner") as http:
        assert http.get(f"/v1/learners/{learner_id}").json()["uln"] == "1000000043"
    assert sees(old_tutor, learner_id, uln["id"]) == ALL_SEEN
    assert sees(new_tutor, learner_id, uln["id"]) == NONE_SEEN

    move = raise_and_process(tenant, learner_id, "correction", MOVE)
    assert ilr_outcome(tenant, move["id"])["status"] == "no_ilr_change"
    eventually(lambda: sees(new_tutor, learner_id, uln["id"]) == ALL_SEEN, timeout=30)
    eventually(lambda: sees(old_tutor, learner_id, uln["id"]) == NONE_SEEN, timeout=30)
    with tenant.admin("learner") as http:
        record = http.get(f"/v1/learners/{learner_id}").json()
    assert (record["group"], record["primary_tutor_id"]) == (NEW_GROUP, "tutor-2")

    address = raise_and_process(tenant, learner_id, "change_of_address", ADDRESS)
    eventually(lambda: told_of(new_tutor["notify"], address["id"]) == ["processed"], timeout=30)
    assert told_of(old_tutor["notify"], address["id"]) == []
    assert sees(new_tutor, learner_id, address["id"]) == ALL_SEEN


SERVICES = ("learner", "tracker", "ilr", "notify")
ALL_SEEN = {"learner": 200, "tracker": 200, "ilr": 200}
NONE_SEEN = {"learner": 404, "tracker": 404, "ilr": 404}


def sees(clients: dict[str, httpx.Client], learner_id: str, tracker_id: str) -> dict[str, int]:
    """What a tutor may read of the learner: the record, a tracker, the ILR (status codes)."""
    return {
        "learner": clients["learner"].get(f"/v1/learners/{learner_id}").status_code,
        "tracker": clients["tracker"].get(f"/v1/trackers/{tracker_id}").status_code,
        "ilr": clients["ilr"].get(f"/v1/learners/{learner_id}/ilr").status_code,
    }


def raise_and_process(
    tenant: Tenant, learner_id: str, tracker_type: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Raise as admin-1 once the tracker service knows the learner's ILR (the preview), then
    process; returns the tracker as raised."""
    request = {"type": tracker_type, "learner_id": learner_id, "changes": changes}
    with tenant.admin("tracker") as http:
        created = http.post("/v1/trackers", json=request)
        assert created.status_code == 201, created.text
        tracker: dict[str, Any] = eventually(lambda: previewed(http, created.json()))
        processed = http.post(f"/v1/trackers/{tracker['id']}/process")
        assert processed.status_code == 200, processed.text
    return tracker


def previewed(http: httpx.Client, tracker: dict[str, Any]) -> dict[str, Any]:
    """The tracker with its preview: an edit works it out again once the ILR projection has
    caught up (the preview is null until then)."""
    if tracker["preview"] is not None:
        return tracker
    current = http.get(f"/v1/trackers/{tracker['id']}").json()
    edit = {"version": current["version"], "changes": current["changes"]}
    edited = http.patch(f"/v1/trackers/{tracker['id']}", json=edit)
    assert edited.status_code == 200, edited.text
    return edited.json() if edited.json()["preview"] is not None else {}


def ilr_outcome(tenant: Tenant, tracker_id: str) -> dict[str, Any]:
    def recorded() -> dict[str, Any]:
        with tenant.admin("tracker") as http:
            return http.get(f"/v1/trackers/{tracker_id}").json().get("ilr_outcome") or {}

    outcome: dict[str, Any] = eventually(recorded)
    return outcome


def told_of(notify: httpx.Client, tracker_id: str) -> list[str]:
    """What the person was told about the tracker in-app: the event kinds ("processed", ...)."""
    items = notify.get("/v1/notifications").json()["items"]
    return [n["event_type"].split(".")[2] for n in items if n["tracker_id"] == tracker_id]
