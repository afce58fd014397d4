"""Issue #14 item 6, end to end: the training plan's first version at enrolment; a break and a
return make a second one, with the revised planned end date in its PDF, awaiting signature and
naming the return's tracker; the primary tutor is told it awaits signature; the learner's and the
employer's acknowledgements land in the audit log."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from pypdf import PdfReader

from tests.conftest import Stack, eventually
from tests.e2e.helpers import GROUP, Tenant
from tests.e2e.test_ilr_trackers import (
    change,
    enrol,
    ilr_outcome,
    process,
    raise_tracker,
    tenant_ready_for_every_type,
)

pytestmark = pytest.mark.e2e

PLANNED_END = date(2027, 3, 31)  # the workload's enrolment
LAST_DAY, RETURN = date(2025, 12, 19), date(2026, 2, 2)
REVISED_END = RETURN + (PLANNED_END - LAST_DAY)  # docs/ilr-rules.md: the planned time kept


def test_a_return_to_learning_issues_a_new_training_plan_to_sign(stack: Stack) -> None:
    tenant = tenant_ready_for_every_type(stack)
    learner_id = enrol(tenant)
    [first] = eventually(lambda: documents(tenant, learner_id))
    assert (first["id"], first["caused_by_tracker"], first["needs_signature"]) == ("v1", None, True)
    assert first["fields"]["planned_end_date"] == PLANNED_END.isoformat()

    break_ = {
        "last_day_of_learning": LAST_DAY.isoformat(),
        "expected_return_date": RETURN.isoformat(),
        "reason": "illness",
    }
    assert change(tenant, learner_id, "break_in_learning", break_)[0]["status"] == "applied"
    returned = {"return_date": RETURN.isoformat()}
    return_tracker = raise_tracker(tenant, learner_id, "return_to_learning", returned)["id"]
    assert process(tenant, return_tracker).status_code == 200
    assert ilr_outcome(tenant, return_tracker)["status"] == "applied"

    second, first = eventually(lambda: two_or_none(documents(tenant, learner_id)))
    assert (second["id"], second["caused_by_tracker"]) == ("v2", return_tracker)
    assert (second["needs_signature"], second["awaiting"]) == (True, ["learner", "employer"])
    assert "planned_end_date" in second["changed_fields"]
    assert (first["superseded"], first["needs_signature"]) == (True, False)
    text = pdf_text(tenant, learner_id, "v2")
    assert f"Planned end date {REVISED_END.strftime('%d %B %Y')}" in text
    assert "Alice Walker" in text

    tutor_message = eventually(lambda: tutor_told_of(tenant, "v2"))
    assert return_tracker in tutor_message["body_text"]
    assert "awaits signature" in tutor_message["body_text"]

    with tenant.as_("learner", learner_id, "learner") as learner:
        signed = learner.post(
            f"/v1/learners/{learner_id}/documents/v2/acknowledge", json={"party": "learner"}
        )
    assert signed.status_code == 200, signed.text
    with tenant.as_("learner", "tutor-1", "tutor", groups=[GROUP]) as tutor:
        signed = tutor.post(
            f"/v1/learners/{learner_id}/documents/v2/acknowledge",
            json={"party": "employer", "signatory": "Jo Bloggs, HR manager"},
        )
    assert signed.status_code == 200, signed.text
    assert (signed.json()["needs_signature"], signed.json()["awaiting"]) == (False, [])

    acknowledged = eventually(lambda: audited_acknowledgements(tenant, learner_id))
    payloads = [e["payload"] for e in acknowledged]
    assert sorted(
        (e["actor"], p["party"]) for e, p in zip(acknowledged, payloads, strict=True)
    ) == [
        (learner_id, "learner"),
        ("tutor-1", "employer"),
    ]
    assert {p["pdf_sha256"] for p in payloads} == {second["pdf_sha256"]}


def documents(tenant: Tenant, learner_id: str) -> list[dict[str, Any]]:
    with tenant.admin("learner") as http:
        response = http.get(f"/v1/learners/{learner_id}/documents")
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()["items"]
    return listed


def two_or_none(listed: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    return listed if len(listed) == 2 else None


def pdf_text(tenant: Tenant, learner_id: str, document_id: str) -> str:
    with tenant.as_("learner", learner_id, "learner") as learner:
        response = learner.get(f"/v1/learners/{learner_id}/documents/{document_id}.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)


def tutor_told_of(tenant: Tenant, document_id: str) -> dict[str, Any] | None:
    with tenant.as_("notify", "tutor-1", "tutor", groups=[GROUP]) as http:
        items = http.get("/v1/notifications").json()["items"]
    return next(
        (
            n
            for n in items
            if n["event_type"] == "ilrflow.learner.document_issued.v1"
            and f" {document_id} " in n["subject"]
        ),
        None,
    )


def audited_acknowledgements(tenant: Tenant, learner_id: str) -> list[dict[str, Any]]:
    params = {"learner_id": learner_id, "type": "ilrflow.learner.document_acknowledged.v1"}
    with tenant.as_("audit", "support-1", "support") as http:
        response = http.get("/v1/audit/events", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items if len(items) == 2 else []
