"""Raising a staff-led tracker: the form built from a type's JSON Schema (built-in types' nested
objects and optional fields, custom types), and the page through the console's app."""

from __future__ import annotations

from typing import Any

import pytest
from test_web_pages import STAFF, client, csrf, signed_in_as
from web_fakes import FakeApis, one_page

from ilrflow.contracts.trackers.catalogue import type_info
from ilrflow.web.domain.schema_form import changes_from, schema_fields
from ilrflow.web.service.ports import ApiRefusedError


def schema_of(tracker_type: str) -> dict[str, Any]:
    info = type_info(tracker_type, {})
    assert info is not None
    return dict(info.changes_model.model_json_schema())


def test_a_nested_object_becomes_one_input_per_leaf() -> None:
    fields = schema_fields(schema_of("change_of_address"))
    assert [(f.name, f.kind, f.required) for f in fields] == [
        ("address.lines", "lines", True),
        ("address.postcode", "text", True),
    ]
    changes = changes_from(fields, {"address.lines": "3 Elm Row\n\nLeeds", "address.postcode": "X"})
    assert changes == {"address": {"lines": ["3 Elm Row", "Leeds"], "postcode": "X"}}


def test_dates_numbers_and_optional_fields() -> None:
    fields = {f.name: f for f in schema_fields(schema_of("change_of_working_hours"))}
    assert (fields["effective_date"].kind, fields["weekly_hours"].kind) == ("date", "number")
    changes = changes_from(
        list(fields.values()), {"effective_date": "2026-03-01", "weekly_hours": "30.5"}
    )
    assert changes == {"effective_date": "2026-03-01", "weekly_hours": 30.5}
    typed = changes_from(list(fields.values()), {"effective_date": "", "weekly_hours": "lots"})
    assert typed == {"effective_date": "", "weekly_hours": "lots"}  # the API says what is wrong
    withdrawal = schema_fields(schema_of("withdrawal"))
    optional = next(f for f in withdrawal if f.name == "withdraw_reason_code")
    assert (optional.kind, optional.required) == ("integer", False)
    assert "withdraw_reason_code" not in changes_from(withdrawal, {"reason": "Moved away"})


CUSTOM_FIELDS = [
    {"name": "serial", "label": "Serial number", "type": "string", "required": True},
    {"name": "returned", "type": "boolean"},
    {"name": "condition", "type": "choice", "choices": ["good", "damaged"]},
]
CUSTOM = {
    "type": "custom:laptop_loan",
    "title": "Laptop loan",
    "description": "A laptop lent to the learner.",
    "custom": True,
    "enabled": True,
    "raise_roles": ["admin", "tutor"],
    "fields": CUSTOM_FIELDS,
    "changes_schema": {"type": "object"},  # a custom type's: generic, its form is its fields
}
OFF = {**CUSTOM, "type": "custom:off", "title": "Off", "enabled": False}
NOT_MINE = {**CUSTOM, "type": "custom:qa", "title": "QA only", "raise_roles": ["ilr_qa"]}


@pytest.fixture
def apis() -> FakeApis:
    fake = FakeApis()
    fake.answer("learner", "GET", "/v1/staff", one_page(STAFF))
    fake.answer("learner", "GET", "/v1/learners", one_page([]))
    fake.answer("tracker", "GET", "/v1/tracker-types", one_page([CUSTOM, OFF, NOT_MINE]))
    return fake


async def test_a_custom_type_is_raised_from_its_schemas_form(apis: FakeApis) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    page = await browser.get("/trackers/new", params={"type": "custom:laptop_loan"})
    assert 'id="changes-serial"' in page.text
    assert 'id="changes-returned" name="returned" type="checkbox"' in page.text
    assert '<option value="damaged">' in page.text
    assert "QA only" not in page.text  # not the person's to raise
    assert ">Off<" not in page.text  # switched off
    apis.answer("tracker", "POST", "/v1/trackers", {"id": "T7"})
    raised = await browser.post(
        "/trackers/new?type=custom:laptop_loan",
        data={"csrf": csrf(page.text), "learner_id": "L1", "serial": "SN1", "returned": "on"},
    )
    assert (raised.status_code, raised.headers["location"]) == (303, "/trackers/T7")
    sent = next(c for c in apis.calls if c.method == "POST")
    assert sent.body == {
        "type": "custom:laptop_loan",
        "learner_id": "L1",
        "changes": {"serial": "SN1", "returned": True},
    }


async def test_the_apis_field_errors_are_shown_on_the_schemas_inputs(apis: FakeApis) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    page = await browser.get("/trackers/new", params={"type": "custom:laptop_loan"})
    refusal = {
        "detail": "invalid",
        "errors": [{"field": "changes.serial", "reason": "must not be blank"}],
    }
    apis.answer("tracker", "POST", "/v1/trackers", ApiRefusedError(422, refusal))
    answer = await browser.post(
        "/trackers/new?type=custom:laptop_loan",
        data={"csrf": csrf(page.text), "learner_id": "L1", "serial": ""},
    )
    assert answer.status_code == 422
    assert '<a href="#changes-serial">Serial number must not be blank</a>' in answer.text
    assert 'value="L1"' in answer.text  # what was typed is kept
