"""The console in a real browser (Debian's Chromium, driven by Playwright) against the real stack:
a learner asks for a change of address; support sees why they may not act on it; the admin it
is allocated to edits it, allocates it with a reason and processes it after seeing the preview;
the learner record shows the new ILR version, the audit trail and the notifications sent about
the learner; support finds it by the learner's ULN and the event type, checks the audit log's
chains and exports the events; a tutor of another group cannot reach it. Every page visited
passes axe-core with no serious or critical violation."""

from __future__ import annotations

import re

import pytest
from browser import sign_in
from playwright.sync_api import Browser, Page, expect
from workload import GROUP, LEARNER

from tests.conftest import Stack, eventually
from tests.e2e.browsing import accessible
from tests.e2e.helpers import Tenant, configure_trackers, known_learner, tenant_with_staff

pytestmark = pytest.mark.e2e

OTHER_GROUP = "cohort-b"
MORE_STAFF = [
    {"id": "support-1", "name": "Sam Support", "email": "sam@example.org", "roles": ["support"]},
    {
        "id": "tutor-2",
        "name": "Tina Tutor",
        "email": "tina@example.org",
        "roles": ["tutor"],
        "groups": [OTHER_GROUP],
    },
]


@pytest.fixture
def tenant(stack: Stack) -> Tenant:
    tenant = tenant_with_staff(stack)
    with tenant.admin("learner") as http:
        for staff in MORE_STAFF:
            assert http.post("/v1/staff", json=staff).status_code == 201
    configure_trackers(
        tenant, settings={"allocation_rules": [{"learner_group": GROUP, "admin_id": "admin-1"}]}
    )
    return tenant


def signed_in(browser: Browser, console: str, tenant: Tenant, name: str) -> Page:
    page = browser.new_context().new_page()
    sign_in(page, console, tenant.name, name)
    return accessible(page)


def test_a_change_of_address_from_request_to_audit_trail(
    browser: Browser, console: str, tenant: Tenant
) -> None:
    learner_id = known_learner(tenant)
    full_name = f"{LEARNER['given_names']} {LEARNER['family_name']}"

    # The learner: the API's field errors on the form, then the request.
    learner = signed_in(browser, console, tenant, full_name)
    expect(learner.get_by_role("heading", name="About you")).to_be_visible()
    learner.get_by_label("Postcode").fill("XX")
    learner.get_by_role("button", name="Request the change of address").click()
    summary = learner.locator(".govuk-error-summary")
    expect(
        summary.get_by_role("link", name=re.compile("^Postcode must be a valid UK postcode"))
    ).to_have_attribute("href", "#address-postcode")
    expect(
        summary.get_by_role("link", name=re.compile("^Address must have 1 to 4"))
    ).to_have_attribute("href", "#address-line-1")
    accessible(learner)
    learner.get_by_label("Address line 1").fill("12 Oak Avenue")
    learner.get_by_label("Address line 2 (optional)").fill("Leeds")
    learner.get_by_label("Postcode").fill("LS6 2BB")
    learner.get_by_role("button", name="Request the change of address").click()
    banner = learner.get_by_text(re.compile(r"Your request (T\w+) has been sent"))
    tracker_id = re.search(r"T\w+", banner.inner_text()).group(0)  # type: ignore[union-attr]
    expect(learner.locator(f"#request-{tracker_id}")).to_contain_text("allocated")
    accessible(learner)
    learner.get_by_label("Email address").fill("not-an-address")
    learner.get_by_role("button", name="Request the change of contact details").click()
    email_error = learner.locator(".govuk-error-summary").get_by_role("link")
    expect(email_error).to_have_attribute("href", "#contact-email")
    expect(email_error).to_contain_text("Email address ")
    accessible(learner)

    # Support may read the tracker but not act on it: each button is replaced by its reason.
    support = signed_in(browser, console, tenant, "Sam Support")
    support.goto(f"{console}/trackers/{tracker_id}")
    expect(support.locator("#process-unavailable")).to_contain_text(
        "Process is not available to you: the learner is not in any of your groups"
    )
    for action in ("allocate", "edit", "reject"):
        expect(support.locator(f"#{action}-unavailable")).to_be_visible()
    expect(support.get_by_role("button", name="Process")).to_have_count(0)
    accessible(support)

    # The admin it was allocated to: the list, the preview, Edit, Allocate, Process.
    admin = signed_in(browser, console, tenant, "Ada Admin")
    # The menu's notification count (the allocation notified her), filled in by the page's poll.
    count = admin.get_by_role("navigation", name="Menu").locator("[data-count-poll]")
    expect(count).to_have_text(re.compile(r"^ \(\d+ unread\)$"), timeout=30_000)
    admin.get_by_label("Allocated").select_option("me")
    admin.get_by_role("button", name="Apply filters").click()
    accessible(admin).get_by_role("link", name=tracker_id).click()
    admin.get_by_text("Edit the proposed values").click()
    admin.locator("#changes-address-postcode").fill("XX")
    accessible(admin).get_by_role("button", name="Save the changes").click()
    expect(
        admin.locator(".govuk-error-summary").get_by_role("link", name=re.compile("^Postcode"))
    ).to_have_attribute("href", "#changes-address-postcode")
    accessible(admin)
    admin.locator("#changes-address-postcode").fill("LS6 2BB")
    admin.locator("#changes-address-lines").fill("12 Oak Avenue\nHeadingley\nLeeds")
    admin.get_by_role("button", name="Save the changes").click()
    history = admin.locator(".console-history")
    expect(history).to_contain_text("Edited by admin-1")
    admin.get_by_label("Admin", exact=True).select_option("admin-1")
    admin.get_by_label("Reason (optional)").fill("Ada covers cohort A")
    admin.get_by_role("button", name="Allocate").click()
    expect(history).to_contain_text("reason: Ada covers cohort A")
    preview = admin.get_by_role("table", name="ILR fields before and after processing")
    expect(preview.get_by_role("row", name="Postcode LS1 4AP LS6 2BB")).to_be_visible()
    expect(preview.get_by_role("row", name="AddLine1 1 High Street 12 Oak Avenue")).to_be_visible()
    outcome = f"{console}/trackers/{tracker_id}/outcome"  # what the page polls, in its session
    assert admin.request.get(outcome).json() == {"arrived": False}
    accessible(admin).get_by_role("button", name="Process").click()
    expect(admin.locator(".govuk-tag").first).to_have_text("processed")
    # No reload by the test: the page itself shows the ILR outcome when it arrives.
    expect(admin.locator("#ilr-outcome")).to_contain_text("ILR version 2", timeout=30_000)
    assert admin.request.get(outcome).json() == {"arrived": True}
    done = admin.get_by_role("table", name="ILR fields before and after version 2")
    expect(done.get_by_role("row", name="Postcode LS1 4AP LS6 2BB")).to_be_visible()
    expect(admin.locator("#edit-unavailable")).to_contain_text("the tracker is already processed")
    accessible(admin)

    # The learner record: version 2 with its change and its tracker, and the audit trail.
    admin.get_by_role("link", name=learner_id).click()
    version = admin.locator(
        "section", has=admin.get_by_role("heading", name=re.compile("^Version 2"))
    )
    expect(version.get_by_role("link", name=tracker_id)).to_be_visible()
    expect(version.get_by_role("row", name="Postcode LS1 4AP LS6 2BB")).to_be_visible()

    def trail_shows_processing() -> bool:
        admin.reload()
        trail = admin.locator("#audit-trail").inner_text()
        return f"{tracker_id} (change_of_address) processed" in trail

    eventually(trail_shows_processing, timeout=30, interval=0.5)
    # What was sent about the learner: at least the admin's notice of the allocation.
    sent = admin.locator("#notifications-sent")
    expect(sent.get_by_role("row").filter(has_text="admin-1").first).to_contain_text(tracker_id)
    accessible(admin)

    # Support finds it by the learner's ULN and the event type, checks the audit log's hash
    # chains and exports what was found.
    support.goto(f"{console}/audit")
    support.get_by_label("Learner (name, ULN or ID)").fill(str(LEARNER["uln"]))
    support.get_by_label("Event type").select_option("ilrflow.tracker.processed.v1")
    support.get_by_role("button", name="Search").click()
    events = support.locator("#audit-events")
    expect(events.get_by_role("link", name=tracker_id).first).to_be_visible()
    expect(events).not_to_contain_text("ilrflow.tracker.raised.v1")
    accessible(support)
    support.get_by_role("button", name="Check the chains").click()
    expect(support.locator("#chain-status")).to_contain_text("intact")
    expect(events.get_by_role("link", name=tracker_id).first).to_be_visible()  # filters kept
    accessible(support)
    csv_link = support.get_by_role("link", name=re.compile("^CSV"))
    exported = support.request.get(console + str(csv_link.get_attribute("href")))
    assert exported.status == 200
    assert tracker_id in exported.text()

    # A tutor of another group: not in the list, and the typed addresses say "not found".
    tutor = signed_in(browser, console, tenant, "Tina Tutor")
    expect(tutor.get_by_text("No trackers match these filters.")).to_be_visible()
    for address in (f"/trackers/{tracker_id}", f"/learners/{learner_id}"):
        answer = tutor.goto(console + address)
        assert answer is not None
        assert answer.status == 404
        expect(tutor.get_by_role("heading", name="Page not found")).to_be_visible()
        expect(tutor.get_by_text("you are not allowed to see it")).to_be_visible()
        accessible(tutor)
