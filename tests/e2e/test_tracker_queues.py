"""Queues and reporting on the real stack: filters, cursor pages newest first, and the Excel
export read back with openpyxl."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from tests.conftest import Stack
from tests.e2e.helpers import known_learner
from tests.e2e.test_tracker_steps import process, raise_tracker, tracker_tenant

pytestmark = pytest.mark.e2e

ADDRESS = {"address": {"lines": ["9 Queue Street"], "postcode": "LS1 5AA"}}
NAME = {"given_names": "Alicia", "family_name": "Walker"}
EXPORT_COLUMNS = [
    "Learner",
    "Programme",
    "Tutor",
    "Created by",
    "Created date",
    "Assigned to",
    "Employer",
    "Type",
    "Status",
    "ILR outcome",
]


def test_filters_pages_and_the_export(stack: Stack) -> None:
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    with tenant.admin("tracker") as admin:
        raised = [
            raise_tracker(admin, kind, learner_id, changes)
            for kind, changes in [
                ("change_of_address", ADDRESS),
                ("change_of_name", NAME),
                ("change_of_address", ADDRESS),
                ("change_of_name", NAME),
                ("change_of_address", ADDRESS),
            ]
        ]
        ids = [t["id"] for t in raised]
        admin.post(f"/v1/trackers/{ids[1]}/allocate", json={"allocated_to": "admin-2"})
        process(admin, ids[0])

        pages, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = admin.get("/v1/trackers", params=params).json()
            pages.append([t["id"] for t in page["items"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == [ids[4:2:-1], ids[2:0:-1], ids[:1]]

        def listed(**params: str) -> list[str]:
            response = admin.get("/v1/trackers", params=params)
            assert response.status_code == 200, response.text
            return [t["id"] for t in response.json()["items"]]

        today = datetime.now(UTC).date()
        assert listed(status="processed") == [ids[0]]
        assert listed(type="change_of_name") == [ids[3], ids[1]]
        assert listed(allocated_to="admin-2") == [ids[1]]
        assert listed(allocated_to="me") == [ids[4], ids[3], ids[2], ids[0]]
        assert listed(learner_id=learner_id, group="cohort-a") == ids[::-1]
        assert listed(learner_id="someone-else") == []
        assert listed(**{"from": today.isoformat(), "to": today.isoformat()}) == ids[::-1]
        assert listed(to=(today - timedelta(days=1)).isoformat()) == []
        assert listed(**{"from": (today + timedelta(days=1)).isoformat()}) == []
        assert admin.get("/v1/trackers", params={"cursor": "nonsense"}).status_code == 422

        export = admin.get("/v1/trackers/export.xlsx", params={"type": "change_of_address"})
        assert export.status_code == 200, export.text
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert [c for c in header if c in EXPORT_COLUMNS] == EXPORT_COLUMNS
    by_id = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert list(by_id) == [ids[4], ids[2], ids[0]]
    first = by_id[ids[0]]
    assert first["Learner"] == "Alice Walker"
    assert first["Programme"] == "Standard 91"
    assert first["Tutor"] == "Tom Tutor"
    assert first["Created by"] == "Ada Admin"
    assert isinstance(first["Created date"], datetime)
    assert first["Assigned to"] == "Ada Admin"
    assert first["Employer"] == "Acme Engineering Ltd"
    assert (first["Type"], first["Status"]) == ("change_of_address", "processed")
    assert by_id[ids[4]]["ILR outcome"] in ("", None)
    with tenant.as_("tracker", learner_id, "learner") as learner:
        assert learner.get("/v1/trackers/export.xlsx").status_code == 403
