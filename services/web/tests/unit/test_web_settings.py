"""The tenant settings page through the console's app, the tracker service replaced by canned
answers: each type's switch and roles, and the tenant-wide two-person control and withdrawal
reasons, with the API's field errors on the fields."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from test_web_pages import SETTINGS, STAFF, client, csrf, signed_in_as
from web_fakes import FakeApis, one_page

from ilrflow.web.domain.settings import TenantForm, TypeForm
from ilrflow.web.service.ports import ApiRefusedError


def type_view(name: str, **values: Any) -> dict[str, Any]:
    return {
        "type": name,
        "title": name.replace("_", " ").capitalize(),
        "description": "",
        "custom": False,
        "enabled": True,
        "raise_roles": ["admin"],
        "edit_roles": ["admin"],
        "process_roles": ["admin"],
        "fields": None,
        **values,
    }


CUSTOM = type_view(
    "custom:laptop_loan",
    title="Laptop loan",
    custom=True,
    fields=[{"name": "serial", "label": "Serial number", "type": "string"}],
)


@pytest.fixture
def apis() -> FakeApis:
    fake = FakeApis()
    fake.answer("learner", "GET", "/v1/staff", one_page(STAFF))
    fake.answer("learner", "GET", "/v1/learners", one_page([]))
    fake.answer(
        "tracker",
        "GET",
        "/v1/tracker-settings",
        {"two_person_control": False, "withdrawal_reason_map": {"Moved away": 41}},
    )
    fake.answer(
        "tracker", "GET", "/v1/tracker-types", one_page([type_view("break_in_learning"), CUSTOM])
    )
    return fake


async def admin(apis: FakeApis) -> tuple[httpx.AsyncClient, str]:
    browser = client(apis, SETTINGS)
    await signed_in_as(browser, "admin-1")
    page = await browser.get("/settings")
    assert page.status_code == 200, page.text
    return browser, csrf(page.text)


async def test_the_page_shows_each_types_switch_and_roles_and_the_tenant_settings(
    apis: FakeApis,
) -> None:
    browser, _ = await admin(apis)
    page = (await browser.get("/settings")).text
    assert 'id="type-break_in_learning-enabled" name="enabled" type="checkbox" checked' in page
    assert 'id="type-custom-laptop_loan-process-admin"' in page
    assert ">Moved away = 41</textarea>" in page
    assert 'href="/settings"' in page  # in the menu, for an admin


async def test_a_type_is_switched_off_and_its_roles_set(apis: FakeApis) -> None:
    browser, token = await admin(apis)
    apis.answer("tracker", "PUT", "/v1/tracker-types/break_in_learning", type_view("x"))
    saved = await browser.post(
        "/settings/types/break_in_learning",
        data={"csrf": token, "raise_roles": ["tutor", "admin"], "process_roles": "admin"},
    )
    assert (saved.status_code, saved.headers["location"]) == (
        303,
        "/settings?saved=break_in_learning",
    )
    put = next(c for c in apis.calls if c.method == "PUT")
    assert put.body == {
        "enabled": False,
        "raise_roles": ["tutor", "admin"],
        "edit_roles": [],
        "process_roles": ["admin"],
    }


async def test_a_custom_type_keeps_its_definition_when_its_switch_is_set(apis: FakeApis) -> None:
    browser, token = await admin(apis)
    apis.answer("tracker", "PUT", "/v1/tracker-types/custom:laptop_loan", CUSTOM)
    await browser.post("/settings/types/custom:laptop_loan", data={"csrf": token, "enabled": "on"})
    put = next(c for c in apis.calls if c.method == "PUT")
    assert put.path == "/v1/tracker-types/custom:laptop_loan"
    assert (put.body["title"], put.body["fields"], put.body["enabled"]) == (
        "Laptop loan",
        CUSTOM["fields"],
        True,
    )


async def test_the_apis_refusal_of_a_reason_is_shown_on_the_reasons_field(apis: FakeApis) -> None:
    browser, token = await admin(apis)
    refusal = {
        "detail": "The settings are not valid",
        "errors": [
            {
                "field": "withdrawal_reason_map",
                "reason": "Value error, reason 'Gone' maps to 99, which is not an ESFA code",
            }
        ],
    }
    apis.answer("tracker", "PUT", "/v1/tracker-settings", ApiRefusedError(422, refusal))
    answer = await browser.post(
        "/settings/tenant",
        data={"csrf": token, "two_person_control": "on", "withdrawal_reasons": "Gone = 99"},
    )
    assert answer.status_code == 422
    assert '<a href="#withdrawal-reasons">Withdrawal reasons: Value error, reason' in answer.text
    assert "withdrawal-reasons-error" in answer.text
    assert ">Gone = 99</textarea>" in answer.text  # what was typed is kept
    put = next(c for c in apis.calls if c.method == "PUT")
    assert put.body == {"two_person_control": True, "withdrawal_reason_map": {"Gone": 99}}


async def test_a_line_without_a_code_is_an_error_and_nothing_is_sent(apis: FakeApis) -> None:
    browser, token = await admin(apis)
    answer = await browser.post(
        "/settings/tenant", data={"csrf": token, "withdrawal_reasons": "Moved away = 41\nGone"}
    )
    assert answer.status_code == 422
    assert "Withdrawal reasons line 2 must be a reason" in answer.text
    assert not any(c.method == "PUT" for c in apis.calls)


async def test_someone_the_api_refuses_gets_the_not_found_page(apis: FakeApis) -> None:
    apis.answer("tracker", "GET", "/v1/tracker-settings", ApiRefusedError(403, {"detail": "no"}))
    browser = client(apis, SETTINGS)
    await signed_in_as(browser, "admin-1")
    assert (await browser.get("/settings")).status_code == 404


def test_the_forms_read_what_was_posted() -> None:
    form = TypeForm.posted({"enabled": "on", "edit_roles": ["admin", "nobody"]})
    assert form.body()["edit_roles"] == ["admin"]  # only ilrflow's roles, in their order
    tenant = TenantForm(False, "A = 1 = 41\n\n  B=12 ")
    assert tenant.reason_map() == {"A = 1": 41, "B": 12}
    assert tenant.errors == []


RULE = {"learner_group": "cohort-a", "admin_id": "admin-1", "tracker_types": []}


async def test_allocation_rules_are_listed_and_a_rule_is_added_after_them(apis: FakeApis) -> None:
    apis.answer("tracker", "GET", "/v1/tracker-settings", {"allocation_rules": [RULE]})
    apis.answer("learner", "GET", "/v1/groups", one_page(["cohort-a", "cohort-b"]))
    browser, token = await admin(apis)
    page = (await browser.get("/settings")).text
    assert '<option value="cohort-b">cohort-b</option>' in page
    assert '<option value="admin-1">Ada Admin (admin-1)</option>' in page
    assert "Every type" in page
    apis.answer("tracker", "PUT", "/v1/tracker-settings", {})

    saved = await browser.post(
        "/settings/allocation-rules",
        data={
            "csrf": token,
            "learner_group": "cohort-b",
            "admin_id": "admin-1",
            "tracker_types": ["break_in_learning"],
        },
    )

    assert saved.headers["location"] == "/settings?saved=rules#allocation-rules"
    put = next(c for c in apis.calls if c.method == "PUT")
    assert put.body == {
        "allocation_rules": [
            RULE,
            {
                "learner_group": "cohort-b",
                "admin_id": "admin-1",
                "tracker_types": ["break_in_learning"],
            },
        ]
    }


async def test_a_rule_is_removed_by_what_it_says_not_by_its_place(apis: FakeApis) -> None:
    other = {"learner_group": "cohort-b", "admin_id": "admin-1", "tracker_types": ["withdrawal"]}
    apis.answer("tracker", "GET", "/v1/tracker-settings", {"allocation_rules": [RULE, other]})
    apis.answer("tracker", "PUT", "/v1/tracker-settings", {})
    browser, token = await admin(apis)
    posted = {"csrf": token, "learner_group": "cohort-b", "admin_id": "admin-1"}

    await browser.post(
        "/settings/allocation-rules/remove", data={**posted, "tracker_types": "withdrawal"}
    )
    gone = await browser.post("/settings/allocation-rules/remove", data=posted)  # no such rule

    puts = [c.body for c in apis.calls if c.method == "PUT"]
    assert puts == [{"allocation_rules": [RULE]}]
    assert gone.status_code == 303


async def test_the_apis_refusal_of_a_rule_is_shown_on_its_input(apis: FakeApis) -> None:
    browser, token = await admin(apis)
    refusal = {
        "detail": "The settings are not valid",
        "errors": [
            {
                "field": "allocation_rules.0.admin_id",
                "reason": "String should have at least 1 character",
            }
        ],
    }
    apis.answer("tracker", "PUT", "/v1/tracker-settings", ApiRefusedError(422, refusal))

    answer = await browser.post(
        "/settings/allocation-rules", data={"csrf": token, "learner_group": "cohort-a"}
    )

    assert answer.status_code == 422
    assert '<a href="#rule-admin">Admin String should have at least 1 character</a>' in answer.text
    assert 'value="cohort-a"' in answer.text  # the group as typed (groups not listed here)
