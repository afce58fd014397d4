"""Issue #13 end to end: a tracker whose processing breaks an ESFA rule. A withdrawal with
WithdrawReason 28 (an OLASS learner, in custody) on an apprenticeship breaks WithdrawReason_05.
The error shows in the tracker's preview before processing, then on GET .../ilr/validation, on
the ilr-updated event and in the export validation once processed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Stack, eventually
from tests.e2e.helpers import (
    GROUP,
    Tenant,
    configure_trackers,
    known_learner,
    read_topic,
    run,
    tenant_with_staff,
)

pytestmark = pytest.mark.e2e

RULE = "WithdrawReason_05"
PATH = "/LearningDelivery/0/WithdrawReason"
AS_OLASS = {"last_day_of_learning": "2026-01-30", "reason": "28"}


def rule_errors(checked: dict[str, Any], key: str = "errors") -> list[dict[str, Any]]:
    return [e for e in checked[key] if e["rule"] == RULE]


def test_a_rule_the_withdrawal_breaks_shows_in_preview_validation_event_and_export(
    stack: Stack,
) -> None:
    tenant = tenant_with_staff(stack)
    settings = {"allocation_rules": [{"learner_group": GROUP, "admin_id": "admin-1"}]}
    configure_trackers(tenant, settings=settings)
    learner_id = known_learner(tenant)

    tracker = raise_withdrawal(tenant, learner_id)
    checked = tracker["preview"]["ilr_validation"]
    assert [e["path"] for e in rule_errors(checked, "new_errors")] == [PATH], checked
    assert checked["valid"] is False

    with tenant.as_("tracker", "admin-1", "admin", groups=[GROUP]) as http:
        processed = http.post(f"/v1/trackers/{tracker['id']}/process")
    assert processed.status_code == 200, processed.text
    with tenant.admin("tracker") as http:
        outcome = eventually(
            lambda: http.get(f"/v1/trackers/{tracker['id']}").json().get("ilr_outcome")
        )
    assert outcome["status"] == "applied", outcome

    with tenant.admin("ilr") as http:
        validation = http.get(f"/v1/learners/{learner_id}/ilr/validation")
        export = http.get("/v1/ilr/export/validation", params={"year": "2526"})
    assert validation.status_code == 200, validation.text
    assert [e["path"] for e in rule_errors(validation.json())] == [PATH]
    assert validation.json()["valid"] is False
    assert export.status_code == 200, export.text
    [in_file] = [lv for lv in export.json()["learners"] if lv["learner_id"] == learner_id]
    assert rule_errors(in_file)
    assert export.json()["totals"]["invalid"] >= 1

    event = last_ilr_update(stack, tenant, learner_id)
    assert (event["tracker_id"], event["outcome"]) == (tracker["id"], "applied")
    assert [e["path"] for e in rule_errors(event["validation"])] == [PATH]
    assert event["validation"] == validation.json()


def raise_withdrawal(tenant: Tenant, learner_id: str) -> dict[str, Any]:
    request = {"type": "withdrawal", "learner_id": learner_id, "changes": AS_OLASS}

    def raised() -> dict[str, Any]:
        with tenant.admin("tracker") as http:
            response = http.post("/v1/trackers", json=request)
        assert response.status_code in (201, 404), response.text
        created: dict[str, Any] = response.json() if response.status_code == 201 else {}
        return created if created.get("preview") else {}

    tracker: dict[str, Any] = eventually(raised, timeout=15)
    return tracker


def last_ilr_update(stack: Stack, tenant: Tenant, learner_id: str) -> dict[str, Any]:
    key = f"{tenant.name}:{learner_id}".encode()
    bootstrap = stack.settings.kafka_bootstrap

    def published() -> dict[str, Any]:
        records = run(read_topic(bootstrap, "ilr-updated", key))
        updates = [json.loads(r.value) for r in records]
        latest: dict[str, Any] = updates[-1] if updates else {}
        return latest if latest.get("cause") == "tracker" else {}

    event: dict[str, Any] = eventually(published, timeout=20)
    return event
