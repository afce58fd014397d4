"""The console's tenant settings page in a real browser against the real tracker service: the
admin switches a type off and sets who may process it, turns on two-person control and maps a
withdrawal reason, the API's refusal of a code that is not ESFA's shown on the field, adds an
allocation rule and removes it; a tutor
gets "Page not found". Every page visited passes axe-core."""

from __future__ import annotations

import re

import pytest
from browser import sign_in
from playwright.sync_api import Browser, expect

from tests.conftest import Stack
from tests.e2e.browsing import accessible
from tests.e2e.helpers import GROUP, Tenant, configure_trackers, tenant_with_staff

pytestmark = pytest.mark.e2e


def test_an_admin_sets_the_tenants_tracker_settings(
    browser: Browser, console: str, stack: Stack
) -> None:
    tenant: Tenant = tenant_with_staff(stack)
    configure_trackers(tenant)
    admin = browser.new_context().new_page()
    sign_in(admin, console, tenant.name, "Ada Admin")
    admin.get_by_role("link", name="Settings").click()
    expect(admin.get_by_role("heading", name="Tenant settings")).to_be_visible()
    accessible(admin)

    # One type: switched off, processed by admins and ILR QA only.
    section = admin.locator("section", has=admin.get_by_role("heading", name="Change of address"))
    section.get_by_label("Change of address is switched on").uncheck()
    processors = section.get_by_role("group", name=re.compile("^Who may process it"))
    processors.get_by_label("ilr_qa").check()
    section.get_by_role("button", name="Save Change of address").click()
    expect(admin.get_by_text("The settings of change_of_address are saved.")).to_be_visible()

    # Tenant-wide: a code that is not ESFA's is refused by the API, on the field.
    admin.get_by_label("Two-person control").check()
    admin.get_by_label("Withdrawal reasons").fill("Moved away = 99")
    admin.get_by_role("button", name="Save the tenant-wide settings").click()
    error = admin.locator(".govuk-error-summary").get_by_role("link")
    expect(error).to_have_attribute("href", "#withdrawal-reasons")
    expect(error).to_contain_text("which is not an ESFA code")
    accessible(admin)
    admin.get_by_label("Withdrawal reasons").fill("Moved away = 41")
    admin.get_by_role("button", name="Save the tenant-wide settings").click()
    expect(admin.get_by_text("The tenant-wide settings are saved.")).to_be_visible()
    expect(admin.get_by_label("Two-person control")).to_be_checked()
    accessible(admin)

    # An allocation rule: the group's changes of address to Ada.
    rules = admin.locator("form", has=admin.get_by_role("button", name="Add the rule"))
    rules.get_by_label("Learner group").fill(GROUP)  # no learner yet: the group is typed
    rules.get_by_label("Admin").select_option("admin-1")
    rules.get_by_label("Change of address").check()
    rules.get_by_role("button", name="Add the rule").click()
    expect(admin.get_by_text("The allocation rules are saved.")).to_be_visible()
    expect(
        admin.locator("#rules").get_by_role("row", name=f"{GROUP} admin-1 Change of address")
    ).to_be_visible()
    accessible(admin)

    with tenant.admin("tracker") as http:
        settings = http.get("/v1/tracker-settings").json()
        address = http.get("/v1/tracker-types", params={"limit": 200}).json()["items"]
    assert settings["two_person_control"] is True
    assert settings["withdrawal_reason_map"] == {"Moved away": 41}
    [changed] = [t for t in address if t["type"] == "change_of_address"]
    assert changed["enabled"] is False
    assert changed["process_roles"] == ["admin", "ilr_qa"]
    assert settings["allocation_rules"] == [
        {"learner_group": GROUP, "admin_id": "admin-1", "tracker_types": ["change_of_address"]}
    ]
    admin.get_by_role("button", name=re.compile("^Remove the rule for")).click()
    expect(admin.get_by_text("No rule yet")).to_be_visible()

    # A tutor: no menu entry, and the address typed by hand is "Page not found".
    tutor = browser.new_context().new_page()
    sign_in(tutor, console, tenant.name, "Tom Tutor")
    expect(tutor.get_by_role("link", name="Settings")).to_have_count(0)
    answer = tutor.goto(f"{console}/settings")
    assert answer is not None
    assert answer.status == 404
    expect(tutor.get_by_role("heading", name="Page not found")).to_be_visible()
