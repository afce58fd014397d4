"""Bad input on the foundation's endpoints: a 4xx with a clear reason, and nothing changes."""

from __future__ import annotations

import time

import jwt
import pytest

from ilrflow.platform.auth import mint_token
from tests.conftest import Stack
from tests.e2e.helpers import (
    ENROLMENT,
    GROUP,
    LEARNER,
    Tenant,
    enrolled_learner,
    every_learner,
    tenant_with_staff,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tenant(stack: Stack) -> Tenant:
    return tenant_with_staff(stack)


def error_of(response) -> dict:  # type: ignore[no-untyped-def]
    """The RFC 9457 problem document, checked for its standard members."""
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body = response.json()
    assert body["status"] == response.status_code, body
    assert body["type"] == f"urn:ilrflow:problem:{body['code']}", body
    assert body["title"], body
    assert body["detail"], body
    assert body["instance"] == response.request.url.path, body
    return body


def learner_count(tenant: Tenant) -> int:
    with tenant.admin("learner") as http:
        return len(every_learner(http))


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"uln": "1234567890"}, "uln", "check digit"),
        ({"uln": "12"}, "uln", "pattern"),
        ({"email": "not-an-email"}, "email", "email address"),
        ({"given_names": ""}, "given_names", "must not be empty"),
        ({"given_names": "R2D2"}, "given_names", "must not contain digits"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "past"),
        ({"address": {"lines": [], "postcode": "LS1 4AP"}}, "address.lines", "at least 1"),
        ({"phone": "07700 90x123"}, "phone", "only digits"),
        (
            {"address": {"lines": ["1 High St"], "postcode": "NOPE"}},
            "address.postcode",
            "UK postcode",
        ),
        ({"surprise": "field"}, "surprise", "not permitted"),
        ({"sex": None}, "sex", "'F' or 'M'"),
        ({"lldd_health_problem": 1}, "lldd_categories", "LLDDHealthProb_06"),
    ],
)
def test_an_invalid_learner_is_refused_with_the_field_and_nothing_is_stored(
    tenant: Tenant,
    change: dict,
    field: str,
    words: str,  # type: ignore[type-arg]
) -> None:
    before = learner_count(tenant)
    with tenant.admin("learner") as http:
        response = http.post("/v1/learners", json={**LEARNER, **change})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_failed"
    [detail] = [d for d in error["errors"] if d["field"] == field]
    assert words in detail["reason"]
    assert learner_count(tenant) == before


def test_a_learner_without_sex_is_refused(tenant: Tenant) -> None:
    before = learner_count(tenant)
    without_sex = {k: v for k, v in LEARNER.items() if k != "sex"}
    with tenant.admin("learner") as http:
        response = http.post("/v1/learners", json=without_sex)
    assert response.status_code == 422
    assert [d["field"] for d in error_of(response)["errors"]] == ["sex"]
    assert learner_count(tenant) == before


def test_an_unknown_primary_tutor_is_refused(tenant: Tenant) -> None:
    before = learner_count(tenant)
    with tenant.admin("learner") as http:
        response = http.post("/v1/learners", json={**LEARNER, "primary_tutor_id": "nobody"})
    assert response.status_code == 422
    assert "nobody" in error_of(response)["detail"]
    assert learner_count(tenant) == before


def test_an_enrolment_that_ends_before_it_starts_is_refused(tenant: Tenant) -> None:
    learner_id = enrolled_learner(tenant)
    with tenant.admin("learner") as http:
        response = http.post(
            f"/v1/learners/{learner_id}/enrolments",
            json={**ENROLMENT, "planned_end_date": "2025-01-01"},
        )
        assert response.status_code == 422
        assert "planned_end_date must be after start_date" in error_of(response)["detail"]
        assert len(http.get(f"/v1/learners/{learner_id}").json()["enrolments"]) == 1


def test_an_enrolment_that_breaks_an_ilr_rule_is_refused_with_the_rule(tenant: Tenant) -> None:
    learner_id = enrolled_learner(tenant)
    on_the_start = {"date_from": ENROLMENT["start_date"], "length_of_employment": 4}
    without_price = {k: v for k, v in ENROLMENT.items() if k != "price"}
    with tenant.admin("learner") as http:
        late = http.post(
            f"/v1/learners/{learner_id}/enrolments",
            json={**ENROLMENT, "employment": on_the_start},
        )
        unpriced = http.post(f"/v1/learners/{learner_id}/enrolments", json=without_price)
        assert len(http.get(f"/v1/learners/{learner_id}").json()["enrolments"]) == 1
    assert late.status_code == unpriced.status_code == 422
    assert "EmpStat_09: employment.date_from must be before start_date" in error_of(late)["detail"]
    assert [d["field"] for d in error_of(unpriced)["errors"]] == ["price"]


def test_an_invalid_tracker_is_refused_with_the_field_and_nothing_is_stored(tenant: Tenant) -> None:
    learner_id = enrolled_learner(tenant)
    with tenant.admin("tracker") as admin:
        assert (
            admin.put("/v1/tracker-types/change_of_address", json={"enabled": True}).status_code
            == 200
        )
    with tenant.as_("tracker", learner_id, "learner") as learner:
        bad_postcode = {"address": {"lines": ["1 New Road"], "postcode": "NOT A POSTCODE"}}
        response = learner.post(
            "/v1/trackers",
            json={"type": "change_of_address", "learner_id": learner_id, "changes": bad_postcode},
        )
        assert response.status_code == 422
        assert "changes.address.postcode" in [d["field"] for d in error_of(response)["errors"]]
        missing = learner.post(
            "/v1/trackers", json={"type": "change_of_address", "learner_id": learner_id}
        )
        assert missing.status_code == 422
        assert [d["field"] for d in error_of(missing)["errors"]] == ["changes"]
        disabled = learner.post(
            "/v1/trackers",
            json={
                "type": "change_of_name",
                "learner_id": learner_id,
                "changes": {"family_name": "Smith"},
            },
        )
        assert disabled.status_code == 403
        assert error_of(disabled)["code"] == "type_disabled"
        assert learner.get("/v1/trackers").json()["items"] == []


def test_a_learner_cannot_raise_for_someone_else(tenant: Tenant) -> None:
    mine = enrolled_learner(tenant)
    theirs = enrolled_learner(tenant)
    with tenant.admin("tracker") as admin:
        admin.put("/v1/tracker-types/change_of_address", json={"enabled": True})
    with tenant.as_("tracker", mine, "learner") as learner:
        response = learner.post(
            "/v1/trackers",
            json={
                "type": "change_of_address",
                "learner_id": theirs,
                "changes": {"address": {"lines": ["1 New Road"], "postcode": "LS2 7AB"}},
            },
        )
    assert response.status_code == 404


@pytest.mark.parametrize("service", ["learner", "tracker", "ilr", "notify", "audit"])
def test_every_service_wants_a_valid_token(stack: Stack, service: str) -> None:
    path = {
        "learner": "/v1/learners",
        "tracker": "/v1/trackers",
        "ilr": "/v1/ilr/export.xml?year=2526",
        "notify": "/v1/notifications",
        "audit": "/v1/audit/events",
    }[service]
    now = int(time.time())
    expired = mint_token(stack.settings, tenant="t", sub="a", roles=["admin"], ttl_seconds=-10)
    forged = jwt.encode(
        {"sub": "a", "tenant": "t", "roles": ["admin"], "exp": now + 60, "iss": "ilrflow"},
        "not-the-secret",
        algorithm="HS256",
    )
    unsigned = jwt.encode(
        {"sub": "a", "tenant": "t", "roles": ["admin"], "exp": now + 60, "iss": "ilrflow"},
        None,
        algorithm="none",
    )
    with stack.anonymous(service) as http:
        assert error_of(http.get(path))["code"] == "unauthenticated"
        for token, code in (
            (expired, "token_expired"),
            (forged, "invalid_token"),
            (unsigned, "invalid_token"),
        ):
            response = http.get(path, headers={"authorization": f"Bearer {token}"})
            assert response.status_code == 401
            assert error_of(response)["code"] == code


def test_another_tenant_never_learns_a_learner_exists(stack: Stack, tenant: Tenant) -> None:
    learner_id = enrolled_learner(tenant)
    with stack.client("learner", "some-other-tenant", "admin-1", "admin", groups=[GROUP]) as other:
        response = other.get(f"/v1/learners/{learner_id}")
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
        assert other.get("/v1/learners").json() == {"items": [], "next_cursor": None}
    with stack.client("ilr", "some-other-tenant", "admin-1", "admin") as other_ilr:
        assert other_ilr.get(f"/v1/learners/{learner_id}/ilr").status_code == 404
