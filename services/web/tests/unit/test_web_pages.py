"""The console's pages through its FastAPI app, the five services replaced by canned answers."""

from __future__ import annotations

import re

import httpx
import pytest
from web_fakes import FakeApis, one_page

from ilrflow.platform.auth import decode_token
from ilrflow.platform.settings import Settings
from ilrflow.web.adapters.session import COOKIE, SessionCodec
from ilrflow.web.bootstrap import create_app
from ilrflow.web.service.ports import ApiRefusedError, Download

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

SETTINGS = Settings(web_dev_sign_in=True, web_session_secret="test-secret")
STAFF = [{"id": "admin-1", "name": "Ada Admin", "roles": ["admin"], "groups": ["cohort-a"]}]
LEARNER = {
    "id": "L1",
    "given_names": "Alice",
    "family_name": "Walker",
    "uln": "9276308686",
    "email": "alice@learner.example",
    "phone": "07700900123",
    "address": {"lines": ["1 High Street", "Leeds"], "postcode": "LS1 4AP"},
}


def actions(**refused: str) -> dict[str, dict[str, object]]:
    """``GET /v1/trackers/{id}/actions``: every action allowed but those ``refused`` (the
    reason of each)."""
    names = ("allocate", "edit", "process", "reject")
    return {
        name: {"allowed": name not in refused, "reason": refused.get(name, ""), "code": None}
        for name in names
    }


@pytest.fixture
def apis() -> FakeApis:
    fake = FakeApis()
    fake.answer("learner", "GET", "/v1/staff", one_page(STAFF))
    fake.answer("learner", "GET", "/v1/learners", {"items": [LEARNER], "next_cursor": None})
    return fake


def client(apis: FakeApis, settings: Settings = SETTINGS) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings, apis))
    return httpx.AsyncClient(transport=transport, base_url="http://console.test")


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def signed_in_as(browser: httpx.AsyncClient, person: str) -> None:
    token = csrf((await browser.get("/sign-in")).text)
    answer = await browser.post(
        "/sign-in", data={"csrf": token, "tenant": "demo", "person": person}
    )
    assert answer.status_code == 303, answer.text


async def test_development_sign_in_lists_the_tenants_people_and_mints_their_token(
    apis: FakeApis,
) -> None:
    browser = client(apis)
    page = await browser.get("/sign-in")
    assert "Ada Admin" in page.text
    assert "Alice Walker" in page.text
    await signed_in_as(browser, "admin-1")
    apis.answer("tracker", "GET", "/v1/tracker-types", one_page([]))
    apis.answer("tracker", "GET", "/v1/trackers", one_page([]))
    await browser.get("/trackers")
    token = next(c.token for c in apis.calls if c.path == "/v1/trackers")
    principal = decode_token(SETTINGS, token)
    assert (principal.sub, principal.tenant, principal.roles) == ("admin-1", "demo", ["admin"])
    assert principal.groups == ["cohort-a"]


async def test_the_session_cookie_is_http_only_and_same_site_lax(apis: FakeApis) -> None:
    cookie = (await client(apis).get("/sign-in")).headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # plain HTTP here; set over HTTPS


async def test_without_development_sign_in_nobody_can_sign_in(apis: FakeApis) -> None:
    browser = client(apis, Settings(web_session_secret="s"))
    page = await browser.get("/sign-in")
    assert "No sign-in method is configured" in page.text
    token = SessionCodec("s").loads(browser.cookies[COOKIE]).csrf
    await browser.post("/sign-in", data={"csrf": token, "tenant": "demo", "person": "admin-1"})
    assert (await browser.get("/trackers")).headers["location"] == "/sign-in"
    assert not any(c.path == "/v1/staff" for c in apis.calls)


async def test_a_form_without_the_sessions_csrf_token_changes_nothing(apis: FakeApis) -> None:
    browser = client(apis)
    await signed_in_as(browser, "L1")
    apis.answer("learner", "GET", "/v1/me", {"kind": "learner", "learner": LEARNER})
    answer = await browser.post(
        "/about-you/address", data={"csrf": "forged", "postcode": "LS6 1AA"}
    )
    assert answer.status_code == 403
    assert "The form has expired" in answer.text
    assert not any(c.method == "POST" for c in apis.calls)


async def test_the_apis_field_errors_are_shown_on_the_address_form(apis: FakeApis) -> None:
    browser = client(apis)
    await signed_in_as(browser, "L1")
    apis.answer("learner", "GET", "/v1/me", {"kind": "learner", "learner": LEARNER})
    apis.answer("tracker", "GET", "/v1/trackers", {"items": [], "next_cursor": None})
    refusal = {
        "detail": "invalid changes",
        "errors": [{"field": "changes.address.postcode", "reason": "must be a valid UK postcode"}],
    }
    apis.answer("tracker", "POST", "/v1/trackers", ApiRefusedError(422, refusal))
    page = await browser.get("/about-you")
    answer = await browser.post(
        "/about-you/address",
        data={"csrf": csrf(page.text), "line": ["9 New Road", "", "", ""], "postcode": "XX"},
    )
    assert answer.status_code == 422
    assert '<a href="#address-postcode">Postcode must be a valid UK postcode</a>' in answer.text
    assert 'aria-describedby="address-postcode-error"' in answer.text
    assert answer.text.count('value="9 New Road"') == 1  # what was typed is kept
    assert "<title>Error: About you" in answer.text
    raised = next(c for c in apis.calls if c.method == "POST")
    assert raised.body["changes"]["address"]["postcode"] == "XX"


async def test_a_raised_request_redirects_to_the_page_that_names_it(apis: FakeApis) -> None:
    browser = client(apis)
    await signed_in_as(browser, "L1")
    apis.answer("learner", "GET", "/v1/me", {"kind": "learner", "learner": LEARNER})
    apis.answer("tracker", "GET", "/v1/trackers", {"items": [], "next_cursor": None})
    apis.answer("tracker", "POST", "/v1/trackers", {"id": "T9"})
    page = await browser.get("/about-you")
    answer = await browser.post(
        "/about-you/address",
        data={"csrf": csrf(page.text), "line": ["9 New Road"], "postcode": "LS6 1AA"},
    )
    assert answer.headers["location"] == "/about-you?raised=T9"


@pytest.mark.parametrize("status", [403, 404])
async def test_what_the_api_hides_or_refuses_is_the_same_not_found_page(
    apis: FakeApis, status: int
) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    apis.answer("tracker", "GET", "/v1/trackers/T1", ApiRefusedError(status, {"detail": "x"}))
    answer = await browser.get("/trackers/T1")
    assert answer.status_code == 404
    assert "does not exist, or you are not allowed to see it" in answer.text


async def test_a_refused_process_shows_the_apis_reason(apis: FakeApis) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    tracker = {
        "id": "T1",
        "learner_id": "L1",
        "tracker_type": "change_of_address",
        "status": "allocated",
        "version": 1,
        "raised_by": "L1",
        "raised_by_roles": ["learner"],
        "raised_at": "2026-01-01T00:00:00Z",
        "allocated_to": "admin-1",
        "preview": {
            "ilr_outcome": {"status": "applied", "reason": "address set"},
            "ilr_patch": [{"op": "replace", "path": "/Postcode", "value": "LS6 1AA"}],
        },
        "history": [],
    }
    apis.answer("tracker", "GET", "/v1/trackers/T1", tracker)
    apis.answer("tracker", "GET", "/v1/trackers/T1/actions", actions(edit="x", allocate="x"))
    apis.answer("ilr", "GET", "/v1/learners/L1/ilr", {"learner": {"Postcode": "LS1 4AP"}})
    refusal = ApiRefusedError(409, {"detail": "two-person control: you raised it"})
    apis.answer("tracker", "POST", "/v1/trackers/T1/process", refusal)
    page = await browser.get("/trackers/T1")
    assert re.search(r"Postcode</th>\s*<td[^>]*>LS1 4AP</td>\s*<td[^>]*>LS6 1AA</td>", page.text)
    answer = await browser.post(
        "/trackers/T1/process", data={"csrf": csrf(page.text), "version": "1"}
    )
    assert answer.status_code == 409
    assert "two-person control: you raised it" in answer.text


async def test_a_page_needs_someone_signed_in(apis: FakeApis) -> None:
    assert (await client(apis).get("/trackers")).headers["location"] == "/sign-in"


async def test_an_unknown_address_is_the_not_found_page(apis: FakeApis) -> None:
    answer = await client(apis).get("/no/such/page")
    assert answer.status_code == 404
    assert "Page not found" in answer.text


async def test_a_processed_tracker_shows_the_change_its_ilr_version_made(apis: FakeApis) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    tracker = {
        "id": "T1",
        "learner_id": "L1",
        "tracker_type": "change_of_address",
        "status": "processed",
        "version": 3,
        "raised_by": "L1",
        "raised_by_roles": ["learner"],
        "raised_at": "2026-01-01T00:00:00Z",
        "preview": {
            "ilr_outcome": {"status": "applied", "reason": "address set"},
            "ilr_patch": [{"op": "replace", "path": "/Postcode", "value": "LS6 1AA"}],
        },
        "ilr_outcome": {"status": "applied", "reason": "address set", "ilr_version": 2},
        "history": [],
    }
    history = [
        {"version": 1, "patch": [{"op": "add", "path": "/Postcode", "value": "LS1 4AP"}]},
        {
            "version": 2,
            "tracker_id": "T1",
            "patch": [{"op": "replace", "path": "/Postcode", "value": "LS6 1AA"}],
        },
    ]
    apis.answer("tracker", "GET", "/v1/trackers/T1", tracker)
    apis.answer("tracker", "GET", "/v1/trackers/T1/actions", actions(edit="x", allocate="x"))
    apis.answer("ilr", "GET", "/v1/learners/L1/ilr", {"learner": {"Postcode": "LS6 1AA"}})
    apis.answer("ilr", "GET", "/v1/learners/L1/ilr/history", one_page(history))
    page = await browser.get("/trackers/T1")
    assert "What processing changed in the ILR" in page.text
    assert re.search(r"Postcode</th>\s*<td[^>]*>LS1 4AP</td>\s*<td[^>]*>LS6 1AA</td>", page.text)
    apis.answer(
        "ilr", "GET", "/v1/learners/L1/ilr/history", one_page(history[:1])
    )  # it changed nothing
    page = await browser.get("/trackers/T1")
    assert "No ILR field changed." in page.text
    assert "LS6 1AA</td>" not in page.text


async def test_the_learner_record_leaves_out_what_the_person_may_not_read(apis: FakeApis) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    learner = {**LEARNER, "programme_status": "active", "group": "cohort-a", "enrolments": []}
    history = [
        {"version": 1, "patch": [{"op": "add", "path": "/Postcode", "value": "LS1 4AP"}]},
        {
            "version": 2,
            "tracker_id": "T7",
            "outcome": "applied",
            "patch": [{"op": "replace", "path": "/Postcode", "value": "LS6 1AA"}],
        },
    ]
    apis.answer("learner", "GET", "/v1/learners/L1", learner)
    apis.answer("ilr", "GET", "/v1/learners/L1/ilr", {"version": 2, "learner": {}})
    apis.answer("ilr", "GET", "/v1/learners/L1/ilr/history", one_page(history))
    refused = ApiRefusedError(403, {"detail": "This needs one of the roles: support, admin."})
    apis.answer("audit", "GET", "/v1/audit/learners/L1/timeline", refused)
    page = await browser.get("/learners/L1")
    assert page.status_code == 200
    assert '<a class="govuk-link" href="/trackers/T7">T7</a>' in page.text
    assert re.search(r"Postcode</th>\s*<td[^>]*>LS1 4AP</td>\s*<td[^>]*>LS6 1AA</td>", page.text)
    assert "You may not see this learner's audit trail." in page.text
    assert page.text.index("Version 2") < page.text.index("Version 1")  # newest first


async def test_the_trackers_list_pages_with_the_apis_cursor_and_keeps_the_filters(
    apis: FakeApis,
) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    apis.answer(
        "tracker", "GET", "/v1/tracker-types", one_page([{"type": "withdrawal", "title": "W"}])
    )
    apis.answer("tracker", "GET", "/v1/trackers", {"items": [], "next_cursor": "c2"})
    page = await browser.get("/trackers?allocated=me&status=allocated&type=withdrawal")
    assert (
        'href="/trackers?allocated=me&amp;type=withdrawal&amp;status=allocated&amp;cursor=c2"'
        in page.text
    )
    await browser.get("/trackers?allocated=me&status=allocated&type=withdrawal&cursor=c2")
    asked = [c.params for c in apis.calls if c.path == "/v1/trackers"]
    assert asked[-1] == {
        "limit": 25,
        "allocated_to": "me",
        "type": "withdrawal",
        "status": "allocated",
        "learner_id": "",
        "from": "",
        "to": "",
        "cursor": "c2",
    }
    assert asked[0]["cursor"] == ""  # the first page: no cursor (the client leaves it out)


async def test_the_contact_details_form_sends_its_changes_and_shows_its_own_errors(
    apis: FakeApis,
) -> None:
    browser = client(apis)
    await signed_in_as(browser, "L1")
    apis.answer("learner", "GET", "/v1/me", {"kind": "learner", "learner": LEARNER})
    apis.answer("tracker", "GET", "/v1/trackers", {"items": [], "next_cursor": None})
    refusal = {"errors": [{"field": "changes.email", "reason": "must be a valid email address"}]}
    apis.answer("tracker", "POST", "/v1/trackers", ApiRefusedError(422, refusal))
    page = await browser.get("/about-you")
    answer = await browser.post(
        "/about-you/contact", data={"csrf": csrf(page.text), "email": "nope", "phone": ""}
    )
    assert answer.status_code == 422
    assert '<a href="#contact-email">Email address must be a valid email address</a>' in answer.text
    assert 'id="contact-email" name="email" type="email" value="nope"' in answer.text
    assert "address-postcode-error" not in answer.text  # the other forms show no error
    raised = next(c for c in apis.calls if c.method == "POST")
    assert raised.body == {
        "type": "change_of_contact_details",
        "learner_id": "L1",
        "changes": {"email": "nope"},
    }
    unknown = await browser.post("/about-you/shoe-size", data={"csrf": csrf(page.text)})
    assert unknown.status_code == 404


async def test_the_trackers_list_exports_its_selection_to_excel(apis: FakeApis) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    apis.answer("tracker", "GET", "/v1/tracker-types", one_page([]))
    apis.answer("tracker", "GET", "/v1/trackers", {"items": [], "next_cursor": "c2"})
    page = await browser.get("/trackers?allocated=me&status=allocated")
    assert 'href="/trackers/export.xlsx?allocated=me&amp;status=allocated"' in page.text
    workbook = Download(b"PK-workbook", XLSX, 'attachment; filename="trackers.xlsx"')
    apis.answer("tracker", "GET", "/v1/trackers/export.xlsx", workbook)
    answer = await browser.get("/trackers/export.xlsx?allocated=me&status=allocated")
    assert answer.status_code == 200
    assert answer.content == b"PK-workbook"
    assert answer.headers["content-type"] == XLSX
    assert answer.headers["content-disposition"] == 'attachment; filename="trackers.xlsx"'
    asked = next(c for c in apis.calls if c.path == "/v1/trackers/export.xlsx")
    assert asked.params == {
        "allocated_to": "me",
        "type": "",
        "status": "allocated",
        "learner_id": "",
        "from": "",
        "to": "",
    }


async def test_a_processed_tracker_waits_for_its_ilr_outcome_and_can_be_polled(
    apis: FakeApis,
) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    tracker = {
        "id": "T1",
        "learner_id": "L1",
        "tracker_type": "change_of_address",
        "status": "processed",
        "version": 3,
        "raised_by": "L1",
        "raised_by_roles": ["learner"],
        "raised_at": "2026-01-01T00:00:00Z",
        "preview": None,
        "ilr_outcome": None,
        "history": [],
    }
    apis.answer("tracker", "GET", "/v1/trackers/T1", tracker)
    apis.answer("tracker", "GET", "/v1/trackers/T1/actions", actions(edit="x", allocate="x"))
    page = await browser.get("/trackers/T1")
    assert 'data-poll="/trackers/T1/outcome"' in page.text
    assert '<a class="govuk-link" href="/trackers/T1">Check again</a>' in page.text  # no script
    assert (await browser.get("/trackers/T1/outcome")).json() == {"arrived": False}
    tracker["ilr_outcome"] = {"status": "no_ilr_change", "reason": "nothing", "ilr_version": None}
    assert (await browser.get("/trackers/T1/outcome")).json() == {"arrived": True}
    apis.answer("ilr", "GET", "/v1/learners/L1/ilr/history", one_page([]))
    assert "data-poll" not in (await browser.get("/trackers/T1")).text


async def test_the_menu_polls_the_unread_count_and_the_notifications_page_lists_them(
    apis: FakeApis,
) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    notice = {
        "id": "N1",
        "subject": "Tracker T1 is allocated to you",
        "body_text": "Please review it.",
        "tracker_id": "T1",
        "created_at": "2026-01-01T09:30:00Z",
        "read_at": None,
    }
    apis.answer("notify", "GET", "/v1/notifications", {"items": [notice], "unread": 1})
    apis.answer("notify", "GET", "/v1/notifications/unread-count", {"unread": 1})
    page = await browser.get("/notifications")
    assert 'data-count-poll="/notifications/unread-count"' in page.text
    assert '<script src="/static/poll.js" defer></script>' in page.text
    assert "Tracker T1 is allocated to you" in page.text
    assert '<a class="govuk-link" href="/trackers/T1">tracker T1</a>' in page.text
    assert (await browser.get("/notifications/unread-count")).json() == {"unread": 1}
    apis.answer(
        "notify", "GET", "/v1/notifications/unread-count", ApiRefusedError(401, {"detail": "x"})
    )
    refused = await browser.get("/notifications/unread-count")
    assert (refused.status_code, refused.json()) == (200, {"unread": None})
    assert "set-cookie" not in refused.headers  # the session is left as it is
    assert (await browser.get("/notifications")).status_code == 200  # still signed in


async def test_the_trackers_list_filters_by_another_admin_learner_and_dates_on_every_page(
    apis: FakeApis,
) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    staff = [*STAFF, {"id": "admin-2", "name": "Bo Admin", "roles": ["admin"], "groups": []}]
    apis.answer("learner", "GET", "/v1/staff", one_page(staff))
    apis.answer("tracker", "GET", "/v1/tracker-types", one_page([]))
    apis.answer("tracker", "GET", "/v1/trackers", {"items": [], "next_cursor": "c2"})
    chosen = "allocated=admin-2&learner=L1&from=2026-01-01&to=2026-01-31"

    page = await browser.get(f"/trackers?{chosen}")

    assert '<option value="admin-2" selected>To Bo Admin</option>' in page.text
    assert '<option value="admin-1"' not in page.text  # herself: "To me"
    assert f'href="/trackers?{chosen.replace("&", "&amp;")}&amp;cursor=c2"' in page.text
    assert f'href="/trackers/export.xlsx?{chosen.replace("&", "&amp;")}"' in page.text
    asked = next(c.params for c in apis.calls if c.path == "/v1/trackers")
    assert asked | {"limit": 0} == {
        "limit": 0,
        "allocated_to": "admin-2",
        "type": "",
        "status": "",
        "learner_id": "L1",
        "from": "2026-01-01",
        "to": "2026-01-31",
        "cursor": "",
    }
    apis.answer("tracker", "GET", "/v1/trackers/export.xlsx", Download(b"PK", XLSX, "attachment"))
    await browser.get(f"/trackers/export.xlsx?{chosen}")
    exported = next(c.params for c in apis.calls if c.path == "/v1/trackers/export.xlsx")
    assert (exported["learner_id"], exported["from"], exported["to"]) == (
        "L1",
        "2026-01-01",
        "2026-01-31",
    )


async def test_a_raised_date_that_is_not_a_date_is_an_error_on_its_field(apis: FakeApis) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    apis.answer("tracker", "GET", "/v1/tracker-types", one_page([]))

    page = await browser.get("/trackers?from=last+week")

    assert page.status_code == 422
    assert '<a href="#raised-from">Raised from must be a date, like 2026-03-31</a>' in page.text
    assert not [c for c in apis.calls if c.path == "/v1/trackers"]


async def test_the_learner_record_lists_the_notifications_sent_about_the_learner(
    apis: FakeApis,
) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    learner = {**LEARNER, "programme_status": "active", "group": "cohort-a", "enrolments": []}
    apis.answer("learner", "GET", "/v1/learners/L1", learner)
    sent = {
        "id": "N1",
        "recipient_id": "tutor-1",
        "channel": "email",
        "subject": "Tracker T7 was processed",
        "tracker_id": "T7",
        "event_type": "tracker-processed",
        "created_at": "2026-01-02T09:30:00Z",
        "delivery_status": "sent",
    }
    apis.answer("notify", "GET", "/v1/learners/L1/notifications", one_page([sent]))

    page = await browser.get("/learners/L1")

    assert page.status_code == 200
    row = page.text.split('id="notifications-sent"')[1]
    assert re.search(
        r"2026-01-02 09:30</td>\s*<td[^>]*>tutor-1</td>\s*<td[^>]*>Email \(sent\)", row
    )
    assert '<a class="govuk-link" href="/trackers/T7">T7</a>' in row
    asked = next(c for c in apis.calls if c.path == "/v1/learners/L1/notifications")
    assert (asked.service, asked.params) == ("notify", {"limit": 25})


async def test_a_learner_service_that_refuses_the_token_only_takes_the_admins_list_away(
    apis: FakeApis,
) -> None:
    browser = client(apis)
    await signed_in_as(browser, "admin-1")
    apis.answer("tracker", "GET", "/v1/tracker-types", one_page([]))
    apis.answer("tracker", "GET", "/v1/trackers", one_page([]))
    apis.answer("learner", "GET", "/v1/staff", ApiRefusedError(401, {"detail": "not ours"}))

    page = await browser.get("/trackers")

    assert page.status_code == 200  # still signed in: the list of admins is only a help
    assert "No trackers match these filters." in page.text
