"""Issue #17 item 6 on the real stack: every service answers errors as RFC 9457 problems, and a
name that would be a formula reaches the tracker export as text."""

from __future__ import annotations

import io

import httpx
import pytest
from openpyxl import load_workbook
from openpyxl.cell import Cell
from workload import STAFF

from tests.conftest import Stack, eventually, new_tenant
from tests.e2e.helpers import Tenant, configure_trackers, known_learner

pytestmark = pytest.mark.e2e

SERVICES = ("learner", "tracker", "ilr", "notify", "audit")
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "code"}
EVIL = '=HYPERLINK("http://evil.example","click")'


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert set(body) >= PROBLEM_MEMBERS, body
    assert (body["status"], body["code"]) == (status, code)
    assert body["type"] == f"urn:ilrflow:problem:{code}"
    assert body["instance"] == response.request.url.path
    return body


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_answers_errors_as_problems(stack: Stack, service: str) -> None:
    base = stack.urls[service]
    assert_problem(httpx.get(f"{base}/v1/me-nowhere", timeout=10), 404, "not_found")
    document = httpx.get(f"{base}/openapi.json", timeout=10).json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_field_problems_and_a_missing_token(stack: Stack) -> None:
    with stack.client("learner", new_tenant(), "admin-1", "admin") as http:
        invalid = http.post("/v1/learners", json={"uln": "12"})
        body = assert_problem(invalid, 422, "validation_failed")
        fields = {problem["field"] for problem in body["errors"]}  # type: ignore[attr-defined]
        assert "uln" in fields
        unauthenticated = http.get("/v1/learners", headers={"Authorization": ""})
        assert_problem(unauthenticated, 401, "unauthenticated")


def test_a_formula_in_a_name_is_text_in_the_tracker_export(stack: Stack) -> None:
    tenant = Tenant(stack, new_tenant())
    with tenant.admin("learner") as http:
        for staff in STAFF:
            named = {**staff, "name": EVIL} if staff["id"] == "admin-1" else staff
            assert http.post("/v1/staff", json=named).status_code == 201
    configure_trackers(tenant)
    learner_id = known_learner(tenant)
    with tenant.admin("tracker") as admin:
        raised = admin.post(
            "/v1/trackers",
            json={
                "type": "change_of_address",
                "learner_id": learner_id,
                "changes": {"address": {"lines": ["1 Formula Row"], "postcode": "LS1 5AA"}},
            },
        )
        assert raised.status_code == 201, raised.text
        created_by = eventually(lambda: created_by_cell(admin.get("/v1/trackers/export.xlsx")))
    assert created_by.data_type == "s"
    assert created_by.value == "'" + EVIL


def created_by_cell(export: httpx.Response) -> Cell | None:
    """The "Created by" cell of the one row, once the projection knows the raiser's name."""
    assert export.status_code == 200, export.text
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("Created by") + 1)
    return cell if cell.value != "admin-1" else None


@pytest.mark.parametrize("service", ["learner", "tracker"])
def test_a_body_over_the_stated_size_is_413(stack: Stack, service: str) -> None:
    path = {"learner": "/v1/learners", "tracker": "/v1/trackers"}[service]
    oversized = {"given_names": "x" * (1_048_576 + 1)}
    with stack.client(service, new_tenant(), "admin-1", "admin") as http:
        assert_problem(http.post(path, json=oversized), 413, "body_too_large")


@pytest.mark.parametrize(
    ("service", "method", "path"),
    [
        ("learner", "POST", "/v1/learners"),
        ("learner", "POST", "/v1/staff"),
        ("tracker", "PUT", "/v1/tracker-settings"),
        ("ilr", "PUT", "/v1/ilr/settings"),
        ("notify", "PUT", "/v1/notify-settings"),
    ],
)
def test_a_caller_without_the_role_gets_403_before_the_body_is_validated(
    stack: Stack, service: str, method: str, path: str
) -> None:
    with stack.client(service, new_tenant(), "learner-1", "learner") as http:
        refused = http.request(method, path, json={"not": "valid"})
    assert_problem(refused, 403, "forbidden")
