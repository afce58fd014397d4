"""Audit search through the console's app: a learner by name, ULN or id, the other filters as
the audit API's query (kept across pages and in the CSV/XLSX links), the chains' check."""

from __future__ import annotations

from test_web_pages import LEARNER, XLSX, client, signed_in_as
from web_fakes import FakeApis, one_page

from ilrflow.web.service.ports import ApiRefusedError, Download

EVENT = {
    "id": "E1",
    "time": "2026-01-02T09:30:00Z",
    "event_type": "ilrflow.tracker.processed.v1",
    "actor": "admin-1",
    "tracker_id": "T7",
}
OTHER = {**LEARNER, "id": "L2", "uln": "1234567890", "given_names": "Alicia"}


def fake() -> FakeApis:
    apis = FakeApis()
    support = {"id": "support-1", "name": "Sam Support", "roles": ["support"], "groups": []}
    apis.answer("learner", "GET", "/v1/staff", one_page([support]))
    apis.answer("learner", "GET", "/v1/learners", one_page([LEARNER]))
    apis.answer("audit", "GET", "/v1/audit/events", {"items": [EVENT], "next_cursor": "c2"})
    return apis


async def test_a_search_sends_every_filter_and_keeps_them_across_pages_and_exports() -> None:
    apis = fake()
    browser = client(apis)
    await signed_in_as(browser, "support-1")
    chosen = (
        "learner=9276308686&tracker=T7&actor=admin-1&type=ilrflow.tracker.processed.v1"
        "&from=2026-01-01&to=2026-01-31"
    )

    page = await browser.get(f"/audit?{chosen}")

    assert page.status_code == 200
    asked = next(c.params for c in apis.calls if c.path == "/v1/audit/events")
    assert asked == {
        "limit": 50,
        "learner_id": "L1",
        "tracker_id": "T7",
        "actor": "admin-1",
        "type": "ilrflow.tracker.processed.v1",
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-02-01T00:00:00Z",  # the last day included
        "cursor": "",
    }
    kept = chosen.replace("&", "&amp;")
    assert f'href="/audit?{kept}&amp;cursor=c2"' in page.text
    assert f'href="/audit/export.csv?{kept}"' in page.text
    assert f'href="/audit/export.xlsx?{kept}"' in page.text
    assert '<a class="govuk-link" href="/trackers/T7">T7</a>' in page.text
    apis.answer("audit", "GET", "/v1/audit/export.xlsx", Download(b"PK", XLSX, "attachment"))
    exported = await browser.get(f"/audit/export.xlsx?{chosen}")
    assert (exported.status_code, exported.content) == (200, b"PK")
    sent = next(c.params for c in apis.calls if c.path == "/v1/audit/export.xlsx")
    assert (sent["learner_id"], sent["to"]) == ("L1", "2026-02-01T00:00:00Z")
    assert "cursor" not in sent


async def test_a_name_several_learners_share_offers_them_to_choose_from() -> None:
    apis = fake()
    apis.answer("learner", "GET", "/v1/learners", one_page([LEARNER, OTHER]))
    browser = client(apis)
    await signed_in_as(browser, "support-1")

    page = await browser.get("/audit?learner=Walker")

    assert 'href="/audit?learner=L2"' in page.text
    assert 'href="/audit?learner=L1"' in page.text
    assert not [c for c in apis.calls if c.path == "/v1/audit/events"]
    exact = await browser.get("/audit?learner=L2")  # an id is exact, among several matches
    assert "Alicia Walker" in exact.text


async def test_a_date_or_event_type_the_api_would_refuse_is_an_error_on_its_field() -> None:
    apis = fake()
    browser = client(apis)
    await signed_in_as(browser, "support-1")

    page = await browser.get("/audit?tracker=T7&from=yesterday&type=shoe-size")

    assert page.status_code == 422
    assert '<a href="#audit-from">From must be a date, like 2026-03-31</a>' in page.text
    assert '<a href="#audit-type">Event type must be one of the list</a>' in page.text
    assert not [c for c in apis.calls if c.path == "/v1/audit/events"]


async def test_the_chains_check_shows_its_verdict_or_who_may_ask_for_it() -> None:
    apis = fake()
    browser = client(apis)
    await signed_in_as(browser, "support-1")
    verdict = {"partitions": 3, "failed_partitions": 0, "entries": 40, "verified_entries": 40}
    apis.answer("audit", "GET", "/v1/audit/verify", {**verdict, "checkpointed_partitions": 0})

    page = await browser.get("/audit?verify=1")

    assert "intact</strong> 40 of 40 entries verified in 3 chains." in page.text
    apis.answer("audit", "GET", "/v1/audit/verify", ApiRefusedError(403, {"detail": "no"}))
    refused = await browser.get("/audit?verify=1")
    assert refused.status_code == 200
    assert "Only support staff and operators may check the chains." in refused.text
