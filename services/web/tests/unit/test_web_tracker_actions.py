"""A tracker's buttons: Allocate, Edit, Process and Reject as the tracker service's
``/actions`` allows them, each missing one replaced by its reason before a press; Allocate and
Edit through the console's app."""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_web_pages import STAFF, actions, client, csrf, signed_in_as
from web_fakes import FakeApis, one_page

from ilrflow.contracts.trackers.catalogue import type_info
from ilrflow.web.domain.schema_form import form_values, schema_fields
from ilrflow.web.service.ports import ApiRefusedError

ADDRESS = {"address": {"lines": ["1 High Street", "Leeds"], "postcode": "LS1 4AP"}}
TRACKER = {
    "id": "T1",
    "learner_id": "L1",
    "tracker_type": "change_of_address",
    "changes": ADDRESS,
    "status": "raised",
    "version": 2,
    "raised_by": "L1",
    "raised_by_roles": ["learner"],
    "raised_at": "2026-01-01T00:00:00Z",
    "allocated_to": None,
    "preview": None,
    "history": [],
}
ADMINS = [*STAFF, {"id": "tutor-1", "name": "Tom Tutor", "roles": ["tutor"], "groups": []}]


def address_type() -> dict[str, Any]:
    info = type_info("change_of_address", {})
    assert info is not None
    schema = info.changes_model.model_json_schema()
    return {"type": "change_of_address", "custom": False, "changes_schema": schema}


@pytest.fixture
def apis() -> FakeApis:
    fake = FakeApis()
    fake.answer("learner", "GET", "/v1/staff", one_page(ADMINS))
    fake.answer("learner", "GET", "/v1/learners", one_page([]))
    fake.answer("tracker", "GET", "/v1/trackers/T1", TRACKER)
    fake.answer("tracker", "GET", "/v1/tracker-types", one_page([address_type()]))
    return fake


def test_an_edit_form_is_filled_with_what_the_tracker_proposes() -> None:
    fields = schema_fields(address_type()["changes_schema"])
    assert form_values(fields, ADDRESS) == {
        "address.lines": "1 High Street\nLeeds",
        "address.postcode": "LS1 4AP",
    }


async def test_each_missing_button_is_replaced_by_its_reason(apis: FakeApis) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    refused = actions(
        process="this tenant requires two people: whoever raised a tracker may not process it",
        edit="to edit a change_of_address tracker you need one of: admin",
    )
    apis.answer("tracker", "GET", "/v1/trackers/T1/actions", refused)

    page = (await browser.get("/trackers/T1")).text

    assert ">Process</button>" not in page
    assert re.search(r'id="process-unavailable"><strong>Process</strong> is not available', page)
    assert "whoever raised a tracker may not process it." in page
    assert 'id="edit-unavailable"' in page
    assert ">Reject</button>" in page
    assert ">Allocate</button>" in page
    assert '<option value="admin-1">Ada Admin (admin-1)</option>' in page
    assert "tutor-1" not in page  # only admins are offered


async def test_allocating_sends_the_admin_and_the_reason(apis: FakeApis) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    apis.answer("tracker", "GET", "/v1/trackers/T1/actions", actions())
    apis.answer("tracker", "POST", "/v1/trackers/T1/allocate", TRACKER)
    page = await browser.get("/trackers/T1")
    form = {"csrf": csrf(page.text), "version": "2", "allocated_to": "admin-1", "reason": "cover"}

    answer = await browser.post("/trackers/T1/allocate", data=form)

    assert (answer.status_code, answer.headers["location"]) == (303, "/trackers/T1")
    sent = next(c for c in apis.calls if c.path == "/v1/trackers/T1/allocate")
    assert sent.body == {"allocated_to": "admin-1", "version": 2, "reason": "cover"}


async def test_a_refused_allocation_names_the_admin_input(apis: FakeApis) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    apis.answer("tracker", "GET", "/v1/trackers/T1/actions", actions())
    problem = {
        "detail": "admin-1 may not process it",
        "errors": [{"field": "allocated_to", "reason": "may not process it"}],
    }
    apis.answer("tracker", "POST", "/v1/trackers/T1/allocate", ApiRefusedError(422, problem))
    page = await browser.get("/trackers/T1")
    form = {"csrf": csrf(page.text), "version": "2", "allocated_to": "admin-1"}

    answer = await browser.post("/trackers/T1/allocate", data=form)

    assert answer.status_code == 422
    assert '<a href="#allocate-to">Allocate to may not process it</a>' in answer.text
    assert 'aria-describedby="allocate-to-error"' in answer.text


async def test_editing_sends_the_schemas_form_and_shows_its_errors_beside_the_inputs(
    apis: FakeApis,
) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    apis.answer("tracker", "GET", "/v1/trackers/T1/actions", actions())
    page = await browser.get("/trackers/T1")
    assert "1 High Street\nLeeds</textarea>" in page.text
    assert 'value="LS1 4AP"' in page.text
    problem = {
        "detail": "invalid changes",
        "errors": [{"field": "changes.address.postcode", "reason": "is not a UK postcode"}],
    }
    apis.answer("tracker", "PATCH", "/v1/trackers/T1", ApiRefusedError(422, problem))
    typed = {"address.lines": "3 Elm Row\nLeeds", "address.postcode": "nowhere"}

    answer = await browser.post(
        "/trackers/T1/edit", data={"csrf": csrf(page.text), "version": "2", **typed}
    )

    assert answer.status_code == 422
    assert "is not a UK postcode" in answer.text
    assert 'href="#changes-address-postcode"' in answer.text
    assert 'value="nowhere"' in answer.text  # what was typed, not the tracker's values
    sent = next(c for c in apis.calls if c.method == "PATCH")
    assert sent.body == {
        "version": 2,
        "changes": {"address": {"lines": ["3 Elm Row", "Leeds"], "postcode": "nowhere"}},
    }


async def test_a_closed_tracker_says_so_instead_of_its_buttons(apis: FakeApis) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    closed = "the tracker is already rejected"
    refused = actions(allocate=closed, edit=closed, process=closed, reject=closed)
    apis.answer("tracker", "GET", "/v1/trackers/T1/actions", refused)
    before = len(apis.calls)

    page = (await browser.get("/trackers/T1")).text

    assert page.count("the tracker is already rejected.") == 4
    assert "<button" not in page.split("Actions</h2>")[1].split("History</h2>")[0]
    asked = [c.path for c in apis.calls[before:]]
    assert "/v1/staff" not in asked  # no forms to fill: neither the admins nor the types
    assert "/v1/tracker-types" not in asked
