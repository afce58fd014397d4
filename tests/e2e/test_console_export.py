"""The console's trackers list exported to Excel in a real browser: the download is the tracker
service's workbook of the list's selection (type, learner, raised dates: the filters kept in the
export link), through the console (the browser holds no token)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from browser import sign_in
from openpyxl import load_workbook
from playwright.sync_api import Browser, expect

from tests.conftest import Stack
from tests.e2e.browsing import accessible
from tests.e2e.helpers import configure_trackers, known_learner, tenant_with_staff

pytestmark = pytest.mark.e2e


def test_the_trackers_list_downloads_as_a_workbook(
    browser: Browser, console: str, stack: Stack
) -> None:
    tenant = tenant_with_staff(stack)
    configure_trackers(tenant)
    learner_id = known_learner(tenant)
    with tenant.admin("tracker") as http:
        raised = http.post(
            "/v1/trackers",
            json={
                "type": "change_of_address",
                "learner_id": learner_id,
                "changes": {"address": {"lines": ["3 Elm Row"], "postcode": "LS6 2BB"}},
            },
        )
        assert raised.status_code == 201, raised.text
    tracker_id = raised.json()["id"]

    page = browser.new_context(accept_downloads=True).new_page()
    sign_in(page, console, tenant.name, "Ada Admin")
    page.get_by_label("Type").select_option("change_of_address")
    page.get_by_label("Learner ID").fill(learner_id)
    today = datetime.now(UTC).date()  # the API's raised dates are UTC days
    page.get_by_label("Raised from").fill(today.isoformat())
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("link", name=tracker_id)).to_be_visible()
    export = page.get_by_role("link", name="Export these trackers to Excel")
    expect(export).to_have_attribute("href", re.compile(f"learner={learner_id}&from="))
    accessible(page)
    page.get_by_label("Raised to").fill((today - timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("No trackers match these filters.")).to_be_visible()
    page.get_by_label("Raised to").fill("")
    page.get_by_role("button", name="Apply filters").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Export these trackers to Excel").click()
    assert download.value.suggested_filename == "trackers.xlsx"
    sheet = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    assert sheet is not None
    cells = [str(cell) for row in sheet.iter_rows(values_only=True) for cell in row]
    assert tracker_id in cells
