"""A staff member raises a tracker for a learner in the console, in a real browser: the form is
built from the type's JSON Schema (a custom type here), the API's error shown on its field, and
the raised tracker's page follows. Every page visited passes axe-core."""

from __future__ import annotations

import re

import pytest
from browser import sign_in
from playwright.sync_api import Browser, expect

from tests.conftest import Stack
from tests.e2e.browsing import accessible
from tests.e2e.helpers import configure_trackers, known_learner, tenant_with_staff

pytestmark = pytest.mark.e2e

LAPTOP_REQUEST = {
    "title": "Laptop request",
    "description": "A learner needs a laptop for their studies.",
    "fields": [
        {"name": "model", "type": "choice", "required": True, "choices": ["mac", "pc"]},
        {"name": "needed_by", "type": "date", "required": True},
        {"name": "notes", "type": "text"},
    ],
    "enabled": True,
}


def test_staff_raise_a_custom_tracker_from_its_schemas_form(
    browser: Browser, console: str, stack: Stack
) -> None:
    tenant = tenant_with_staff(stack)
    configure_trackers(tenant, custom={"custom:laptop_request": LAPTOP_REQUEST})
    learner_id = known_learner(tenant)
    page = browser.new_context().new_page()
    sign_in(page, console, tenant.name, "Ada Admin")
    page.get_by_role("link", name="Raise a tracker for a learner").click()
    page.get_by_label("Tracker type").select_option("custom:laptop_request")
    page.get_by_role("button", name="Choose this type").click()
    expect(page.get_by_role("heading", name="Laptop request")).to_be_visible()
    accessible(page)

    page.get_by_label("Learner ID").fill(learner_id)
    page.get_by_label(re.compile("^Model")).select_option("pc")
    page.get_by_role("button", name="Raise the tracker").click()
    error = page.locator(".govuk-error-summary").get_by_role("link")
    expect(error).to_have_attribute("href", "#changes-needed_by")
    accessible(page)

    page.get_by_label(re.compile("^Needed")).fill("2026-03-01")
    page.get_by_role("button", name="Raise the tracker").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Tracker T\w+"))).to_be_visible()
    expect(page.get_by_role("link", name=learner_id)).to_be_visible()
    accessible(page)
