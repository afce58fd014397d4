"""Issue #13's "done when", end to end: a learner created and enrolled with the documented
fields, then taken through break, return, change of employer, change of hours and withdrawal, has
``valid: true`` at every version (on GET .../ilr/validation and on every ilr-updated event), and
the year's export for that learner is XSD-valid and rule-clean."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

import pytest
import xmlschema

from ilrflow.contracts.events import Topics, partition_key
from tests.conftest import Stack
from tests.e2e.helpers import Tenant, read_topic, run
from tests.e2e.test_ilr_trackers import (
    SCHEMAS,
    enrol,
    ilr_of,
    ilr_outcome,
    process,
    raise_tracker,
    tenant_ready_for_every_type,
)

pytestmark = pytest.mark.e2e

JOURNEY: list[tuple[str, dict[str, Any]]] = [
    (
        "break_in_learning",
        {
            "last_day_of_learning": "2025-12-19",
            "expected_return_date": "2026-02-02",
            "reason": "illness",
        },
    ),
    ("return_to_learning", {"return_date": "2026-02-02"}),
    (
        "change_of_employer",
        {
            "effective_date": "2026-03-02",
            "weekly_hours": 37,
            "employer": {"ern": "987654321", "name": "Beta Ltd"},
        },
    ),
    ("change_of_working_hours", {"effective_date": "2026-04-06", "weekly_hours": 16}),
    ("withdrawal", {"last_day_of_learning": "2026-06-30", "reason": "44"}),
]


def test_a_whole_journey_is_valid_at_every_version_and_exports_clean(stack: Stack) -> None:
    tenant = tenant_ready_for_every_type(stack)
    learner_id = enrol(tenant)
    assert validation_of(tenant, learner_id) == {"valid": True, "errors": [], "warnings": []}

    for tracker_type, changes in JOURNEY:
        tracker = raise_tracker(tenant, learner_id, tracker_type, changes)
        assert tracker["preview"]["ilr_validation"]["new_errors"] == [], tracker_type
        assert process(tenant, tracker["id"]).status_code == 200, tracker_type
        outcome = ilr_outcome(tenant, tracker["id"])
        assert outcome["status"] == "applied", (tracker_type, outcome)
        assert ilr_of(tenant, learner_id)["version"] == outcome["ilr_version"]
        checked = validation_of(tenant, learner_id)
        assert checked["valid"], (tracker_type, checked)

    updates = ilr_updates(tenant, learner_id)
    assert [u["version"] for u in updates if u["outcome"] == "applied"] == [1, 2, 3, 4, 5, 6]
    assert all(u["validation"]["valid"] for u in updates), updates

    with tenant.admin("ilr") as http:
        exported = http.get("/v1/ilr/export.xml", params={"year": "2526"})
        checked_file = http.get("/v1/ilr/export/validation", params={"year": "2526"})
    assert exported.status_code == 200, exported.text
    xmlschema.XMLSchema(str(SCHEMAS / "ILR-2025-26.xsd")).validate(BytesIO(exported.content))
    [in_file] = [lv for lv in checked_file.json()["learners"] if lv["learner_id"] == learner_id]
    assert (in_file["valid"], in_file["errors"]) == (True, [])


def validation_of(tenant: Tenant, learner_id: str) -> dict[str, Any]:
    with tenant.admin("ilr") as http:
        response = http.get(f"/v1/learners/{learner_id}/ilr/validation")
    assert response.status_code == 200, response.text
    checked: dict[str, Any] = response.json()
    return checked


def ilr_updates(tenant: Tenant, learner_id: str) -> list[dict[str, Any]]:
    key = partition_key(tenant.name, learner_id).encode()
    records = run(read_topic(tenant.stack.settings.kafka_bootstrap, Topics.ILR_UPDATED, key))
    return [json.loads(record.value) for record in records]
